//go:build !unix

package server

// openFilesLimit is unknown here: no automatic connection cap.
func openFilesLimit() int { return 0 }
