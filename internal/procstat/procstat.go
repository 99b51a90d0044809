// Package procstat reads what the operating system knows about a process.
package procstat

// RSS is the resident memory of process pid in bytes, or 0 where unknown.
func RSS(pid int) int64 { return rss(pid) }
