//go:build !unix

package main

import "os"

// reloadSignals: no SIGUSR1 here; reload comes through the CLI later.
func reloadSignals() <-chan os.Signal { return make(chan os.Signal) }
