//go:build unix && !linux

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

func dupStderr(f *os.File) { unix.Dup2(int(f.Fd()), 2) }
