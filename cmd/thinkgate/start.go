package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"thinkgate/internal/config"
	"thinkgate/internal/control"
	"thinkgate/internal/logging"
	"thinkgate/internal/server"
)

// envDaemon marks the re-executed background process; its value is the
// file descriptor on which it reports start-up ("ok PID" or "error: ...").
// It does not start with THINKGATE_, so it is not a config override.
const envDaemon = "_THINKGATE_DAEMON_READY_FD"

func start(f *flags, stdout, stderr io.Writer) int {
	cfg := f.configured
	ready := daemonReadyPipe()
	fail := func(code int, err error) int {
		fmt.Fprintln(stderr, "thinkgate:", err)
		if ready != nil {
			fmt.Fprintf(ready, "error %d %s\n", code, err)
			ready.Close()
		}
		return code
	}
	in := locate(cfg)
	switch in.state {
	case exitOK:
		return fail(exitRunning, fmt.Errorf("already running (pid %d, control socket %s); use stop, restart or reload", in.pid, in.sock))
	case exitStale:
		if ready == nil { // the daemon's parent already said it
			fmt.Fprintf(stderr, "thinkgate: %s; starting anyway\n", in.staleText())
		}
		if !control.Alive(in.pid) {
			os.Remove(in.pidPath)
		}
	}
	if f.daemon && ready == nil {
		return daemonize(f, cfg, stdout, stderr)
	}
	daemon := ready != nil
	if daemon && cfg.Log.File == "" {
		cfg.Log.File = cfg.DaemonLogPath()
	}
	logs, err := logging.New(cfg.Log.Level, cfg.Log.Format, cfg.Log.File, stderr)
	if err != nil {
		return fail(exitFailed, err)
	}
	node, err := server.Listen(cfg, logs)
	if err != nil {
		return fail(exitFailed, err)
	}
	ln, err := control.Listen(in.sock)
	switch {
	case errors.Is(err, control.ErrInUse):
		node.Close()
		return fail(exitFailed, err)
	case err != nil:
		// Windows before 10 1803 and Wine have no unix sockets: serve
		// anyway; only the verbs cannot reach this process.
		logs.Warn("no control socket: stop, reload, status and connections cannot reach this process; stop it with Ctrl-C or a signal",
			"err", err)
	default:
		node.Control = ln
	}
	if err := control.WritePid(in.pidPath); err != nil {
		if ln != nil {
			ln.Close()
		}
		node.Close()
		return fail(exitFailed, err)
	}
	defer control.RemovePid(in.pidPath)
	node.LoadConfig = func() (config.Config, error) {
		c, err := f.load()
		if daemon && c.Log.File == "" {
			c.Log.File = c.DaemonLogPath()
		}
		return c, err
	}
	if daemon {
		node.AfterLogReopen = redirectStderr
	}
	node.Ready = func() {
		if ready != nil {
			fmt.Fprintf(ready, "ok %d\n", os.Getpid())
			ready.Close()
		}
	}
	stopSignals := handleSignals(node, logs)
	defer stopSignals()
	if err := node.Run(context.Background()); err != nil {
		logs.Error("exit", "err", err)
		return exitFailed
	}
	return exitOK
}

// restart stops the running instance, if any, then starts a new one.
func restart(f *flags, stdout, stderr io.Writer) int {
	in := locate(f.configured)
	if in.state == exitOK {
		fmt.Fprintf(stdout, "thinkgate: restarting pid %d: its WebSocket clients are disconnected and reconnect to the new one (reload keeps them connected)\n", in.pid)
		if code := stopInstance(in, true, f.configured, stdout, stderr); code != exitOK {
			return code
		}
	}
	return start(f, stdout, stderr)
}

// instance is what the pid file and control socket say about a running
// thinkgate.
type instance struct {
	state   int // exitOK (answers), exitNotRunning or exitStale
	pid     int
	pidPath string
	sock    string
	client  *control.Client
	status  statusDoc
}

// locate finds the instance cfg names: the control socket answering is
// the proof it runs; a pid file without an answer is stale.
func locate(cfg config.Config) instance {
	in := instance{pidPath: cfg.PidPath(), sock: cfg.SocketPath()}
	in.client = control.NewClient(in.sock)
	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	defer cancel()
	if err := in.client.Do(ctx, "GET", "/status", &in.status); err == nil {
		in.state, in.pid = exitOK, in.status.PID
		return in
	}
	pid, err := control.ReadPid(in.pidPath)
	switch {
	case os.IsNotExist(err):
		in.state = exitNotRunning
	case err != nil:
		in.state = exitStale
	default:
		in.state, in.pid = exitStale, pid
	}
	return in
}

// staleText describes a stale pid file.
func (in instance) staleText() string {
	if in.pid == 0 {
		return "stale pid file " + in.pidPath + " (it holds no process id)"
	}
	if control.Alive(in.pid) {
		if _, err := os.Stat(in.sock); err != nil {
			return "pid " + strconv.Itoa(in.pid) + " (pid file " + in.pidPath + ") is running without a control socket at " + in.sock +
				" (it could not make one: see its log); stop it with Ctrl-C or kill " + strconv.Itoa(in.pid)
		}
		return "stale pid file " + in.pidPath + ": pid " + strconv.Itoa(in.pid) + " is running but does not answer on " + in.sock + " (not thinkgate, or hung)"
	}
	return "stale pid file " + in.pidPath + ": pid " + strconv.Itoa(in.pid) + " is gone"
}

// notRunning prints why there is nothing to talk to and returns the exit
// status: 4 with no pid file, 5 with a stale one (removed when its process
// is gone).
func (in instance) notRunning(stderr io.Writer) int {
	if in.state == exitNotRunning {
		fmt.Fprintf(stderr, "thinkgate: not running (no pid file %s, nothing on %s)\n", in.pidPath, in.sock)
		return exitNotRunning
	}
	text := in.staleText()
	if in.pid == 0 || !control.Alive(in.pid) {
		os.Remove(in.pidPath)
		text += "; removed it"
	}
	fmt.Fprintln(stderr, "thinkgate: not running:", text)
	return exitStale
}
