// Package procstat reads what the operating system knows about a process.
package procstat

import "time"

// RSS is the resident memory of process pid in bytes, or 0 where unknown.
func RSS(pid int) int64 { return rss(pid) }

// CPU is the processor time process pid has used (user and system, its own,
// not its children's), or 0 where unknown; /proc counts it in clock ticks
// (usually 10 ms), so compare it over many requests.
func CPU(pid int) time.Duration { return cpu(pid) }
