// Package lines reads Workerman Text framing: a message is the bytes up to
// "\n", with every trailing "\r" and "\n" stripped.
package lines

import (
	"bufio"
	"bytes"
	"errors"
)

// ErrTooLong is returned for a line longer than the caller's limit.
var ErrTooLong = errors.New("line too long")

// Read returns the next line without its trailing "\r" and "\n" characters.
// A line (newline included) longer than max+2 bytes gives ErrTooLong.
func Read(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > max+2 { // allow for the "\r\n" itself
			return nil, ErrTooLong
		}
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, err
		}
		return bytes.TrimRight(line, "\r\n"), nil
	}
}
