//go:build !unix

package bench

import "errors"

const floorSupported = false

func writeFD(uintptr, []byte) (int, error) { return 0, errors.ErrUnsupported }

// raiseFileLimit: no such limit to raise here.
func raiseFileLimit() {}
