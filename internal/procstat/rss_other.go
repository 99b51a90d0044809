//go:build !linux

package procstat

import "time"

// rss is unknown off Linux.
func rss(int) int64 { return 0 }

// cpu is unknown off Linux.
func cpu(int) time.Duration { return 0 }
