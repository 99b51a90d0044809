// Package logging builds thinkgate's slog logger: text or JSON, a level that
// reload can change, and an optional log file that reload reopens so that
// logrotate can move it away.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// Logger is the process logger plus the handles reload needs.
type Logger struct {
	*slog.Logger
	level slog.LevelVar
	out   *Output
}

// New returns a logger writing to file (appending; created 0640 when
// missing), or to fallback when file is empty.
func New(level, format, file string, fallback io.Writer) (*Logger, error) {
	l := &Logger{out: &Output{w: fallback}}
	if err := l.SetLevel(level); err != nil {
		return nil, err
	}
	if file != "" {
		if err := l.out.Open(file); err != nil {
			return nil, err
		}
	}
	opts := &slog.HandlerOptions{Level: &l.level}
	if format == "json" {
		l.Logger = slog.New(slog.NewJSONHandler(l.out, opts))
	} else {
		l.Logger = slog.New(slog.NewTextHandler(l.out, opts))
	}
	return l, nil
}

// SetLevel changes the level: debug, info, warn or error.
func (l *Logger) SetLevel(name string) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(name))); err != nil {
		return fmt.Errorf("log.level: %w", err)
	}
	l.level.Set(lv)
	return nil
}

// Output is where log lines go.
func (l *Logger) Output() *Output { return l.out }

// Output is an io.Writer whose file can be reopened while other goroutines
// write to it.
type Output struct {
	mu   sync.Mutex
	w    io.Writer
	file *os.File // nil when writing to the fallback
	path string
}

// Write writes one log record.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(p)
}

// Path is the log file, or "" when logging to the fallback writer.
func (o *Output) Path() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.path
}

// File is the open log file, or nil.
func (o *Output) File() *os.File {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.file
}

// Open switches to appending to path; the previous file is closed once the
// new one is open, so a failure leaves logging where it was.
func (o *Output) Open(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("log.file: %w", err)
	}
	o.mu.Lock()
	old := o.file
	o.w, o.file, o.path = f, f, path
	o.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Reopen opens the current log file again by name: after logrotate renamed
// it, new lines go to a fresh file at the configured path.
func (o *Output) Reopen() error {
	path := o.Path()
	if path == "" {
		return nil
	}
	return o.Open(path)
}
