//go:build unix

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"thinkgate/internal/config"
	"thinkgate/internal/logging"
	"thinkgate/internal/server"
)

// daemonize re-runs thinkgate in a new session with its output going to the
// log file, and waits until it reports that it serves (or why it cannot).
func daemonize(f *flags, cfg config.Config, stdout, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "thinkgate: -d:", err)
		return exitFailed
	}
	logPath := cfg.DaemonLogPath()
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		fmt.Fprintln(stderr, "thinkgate: log file:", err)
		return exitFailed
	}
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		fmt.Fprintln(stderr, "thinkgate: log file:", err)
		return exitFailed
	}
	defer logFile.Close()
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintln(stderr, "thinkgate: -d:", err)
		return exitFailed
	}
	defer r.Close()
	args := []string{"start"}
	for _, a := range f.args {
		if a != "-d" && a != "--d" && a != "-d=true" && a != "--d=true" {
			args = append(args, a)
		}
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), envDaemon+"=3")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = []*os.File{w} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		fmt.Fprintln(stderr, "thinkgate: -d:", err)
		return exitFailed
	}
	w.Close()

	type answer struct {
		line string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		got <- answer{strings.TrimSpace(line), err}
	}()
	wait := cfg.PHP.BootTimeout.Duration + 30*time.Second
	select {
	case a := <-got:
		if rest, ok := strings.CutPrefix(a.line, "ok "); ok {
			cmd.Process.Release()
			fmt.Fprintf(stdout, "thinkgate started in the background (pid %s)\n  log: %s\n  pid file: %s\n  stop it with: thinkgate stop   status: thinkgate status   reload: thinkgate reload\n",
				rest, logPath, cfg.PidPath())
			return exitOK
		}
		if rest, ok := strings.CutPrefix(a.line, "error "); ok {
			code, msg, _ := strings.Cut(rest, " ")
			fmt.Fprintln(stderr, "thinkgate:", msg)
			cmd.Wait()
			if n, err := strconv.Atoi(code); err == nil {
				return n
			}
			return exitFailed
		}
		err := cmd.Wait()
		fmt.Fprintf(stderr, "thinkgate: the background process ended during start-up (%v); see %s\n", err, logPath)
		return exitFailed
	case <-time.After(wait):
		cmd.Process.Kill()
		cmd.Wait()
		fmt.Fprintf(stderr, "thinkgate: the background process did not report ready within %s and was killed; see %s\n", wait, logPath)
		return exitFailed
	}
}

// daemonReadyPipe is the start-up report pipe of a background process, or
// nil in the foreground.
func daemonReadyPipe() *os.File {
	v := os.Getenv(envDaemon)
	if v == "" {
		return nil
	}
	os.Unsetenv(envDaemon) // not for PHP workers
	fd, err := strconv.Atoi(v)
	if err != nil {
		return nil
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "ready")
}

// redirectStderr points standard error (panics, runtime messages) at the
// reopened log file.
func redirectStderr(f *os.File) { dupStderr(f) }

// handleSignals gives signals Workerman's meanings: SIGINT stops at once,
// SIGTERM and SIGQUIT stop gracefully, SIGUSR1 and SIGUSR2 reload (always
// gracefully here: nothing in flight is dropped). It returns a function
// that stops listening.
func handleSignals(node *server.Node, logs *logging.Logger) func() {
	c := make(chan os.Signal, 4)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-c:
				switch s {
				case syscall.SIGINT:
					node.Stop(false)
				case syscall.SIGTERM, syscall.SIGQUIT:
					node.Stop(true)
				default:
					logs.Info("reloading", "signal", s.String())
					go node.Reload()
				}
			}
		}
	}()
	return func() {
		signal.Stop(c)
		close(done)
	}
}
