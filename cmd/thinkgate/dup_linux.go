package main

import (
	"os"

	"golang.org/x/sys/unix"
)

func dupStderr(f *os.File) { unix.Dup3(int(f.Fd()), 2, 0) }
