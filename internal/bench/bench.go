// Package bench is thinkgate's load tool.
package bench

import (
	"errors"
	"io"
)

// Main runs the load tool.
func Main(args []string, stdout, stderr io.Writer) error { return errors.New("todo") }
