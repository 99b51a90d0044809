// Command thinkgate is a real-time push gateway and resident PHP app server
// for PHP web apps: a drop-in for Workerman/GatewayWorker in one binary.
//
//	thinkgate start [-d] [-c thinkgate.toml]  run (in the background with -d)
//	thinkgate stop [-g]                       stop the running instance
//	thinkgate restart [-d]                    stop, then start
//	thinkgate reload                          re-read the config, roll PHP workers, keep clients
//	thinkgate status [--json]                 what the running instance is doing
//	thinkgate connections [--json]            its WebSocket clients
//	thinkgate config [-c thinkgate.toml]      print the effective config
//	thinkgate version                         print the version
//	thinkgate bench ...                       the load tool (thinkgate bench -h)
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"thinkgate/internal/bench"
	"thinkgate/internal/config"
	"thinkgate/internal/server"
)

const usage = `usage: thinkgate <command> [flags]

commands:
  start        run thinkgate; -d runs it in the background (a daemon)
  stop         stop the running instance; -g (--graceful) lets requests in flight finish
  restart      stop, then start (clients are disconnected and reconnect; reload keeps them)
  reload       re-read the config, reopen the log, renew TLS certificates, roll the PHP
               workers; no WebSocket client is dropped
  status       what the running instance is doing; --json for the document
  connections  its WebSocket clients (client_id, uid, groups, remote address, age); --json, --limit N
  config       print the effective configuration as a commented TOML file
  version      print the version
  bench        run the load tool against a running thinkgate (thinkgate bench -h)

flags of every command but version and bench:
  -c FILE      config file (default ./thinkgate.toml when present; THINKGATE_* environment
               variables override it). The other commands find the running instance through
               the pid file and control socket this config names.
  -watch       (start, restart) reload the PHP workers when the app's files change

exit status: 0 done, 1 failed, 2 usage, 3 already running (start),
  4 not running (stop, reload, status, connections), 5 stale pid file: it names a process
  that is gone or does not answer (removed when the process is gone)
`

// Exit statuses.
const (
	exitOK         = 0
	exitFailed     = 1
	exitUsage      = 2
	exitRunning    = 3 // start while an instance answers
	exitNotRunning = 4 // no pid file and nothing answers
	exitStale      = 5 // a pid file whose process is gone or does not answer
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "-v", "--version":
		fmt.Fprintln(stdout, "thinkgate", server.Version)
		return exitOK
	case "bench":
		if err := bench.Main(rest, stdout, stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			fmt.Fprintln(stderr, "thinkgate bench:", err)
			return exitFailed
		}
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "start", "restart", "config", "stop", "reload", "status", "connections":
		return command(cmd, rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "thinkgate: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}

// flags are every command's flags; each command uses its own.
type flags struct {
	file       string
	explicit   bool
	watch      bool
	daemon     bool
	graceful   bool
	json       bool
	limit      int
	args       []string // as given, for the daemon to re-run
	configured config.Config
}

func command(cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &flags{args: args}
	fs.StringVar(&f.file, "c", "", "config file")
	switch cmd {
	case "start", "restart":
		fs.BoolVar(&f.watch, "watch", false, "reload PHP workers when the app's files change (php.watch)")
		fs.BoolVar(&f.daemon, "d", false, "run in the background")
	case "stop":
		fs.BoolVar(&f.graceful, "graceful", false, "let requests in flight finish (up to process.stop_timeout)")
		fs.BoolVar(&f.graceful, "g", false, "short for -graceful")
	case "status":
		fs.BoolVar(&f.json, "json", false, "print the status document as JSON")
	case "connections":
		fs.BoolVar(&f.json, "json", false, "one JSON object per line")
		fs.IntVar(&f.limit, "limit", 0, "list at most this many (0: all)")
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "thinkgate %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return exitUsage
	}
	path := f.file
	f.explicit = path != ""
	if !f.explicit {
		path = config.DefaultFile
	}
	f.file = path
	cfg, err := f.load()
	switch {
	case err != nil && (cmd == "stop" || cmd == "reload" || cmd == "status" || cmd == "connections"):
		// These need only the pid file and the control socket: a typo in
		// the config must not keep a running instance from being stopped
		// or reloaded (reload reports the typo itself).
		cfg = config.LoadLocation(f.file, os.Environ())
		fmt.Fprintf(stderr, "thinkgate: warning: %v; finding the instance by its pid file %s\n", err, cfg.PidPath())
	case err != nil:
		fmt.Fprintln(stderr, "thinkgate:", err)
		return exitFailed
	}
	f.configured = cfg
	switch cmd {
	case "config":
		if err := config.Write(stdout, &cfg); err != nil {
			fmt.Fprintln(stderr, "thinkgate:", err)
			return exitFailed
		}
		return exitOK
	case "start":
		return start(f, stdout, stderr)
	case "restart":
		return restart(f, stdout, stderr)
	case "stop":
		return stop(f, stdout, stderr)
	case "reload":
		return reload(f, stdout, stderr)
	case "status":
		return status(f, stdout, stderr)
	default:
		return connections(f, stdout, stderr)
	}
}

// load reads the configuration as the command line names it.
func (f *flags) load() (config.Config, error) {
	cfg, err := config.Load(f.file, f.explicit, os.Environ())
	if err != nil {
		return cfg, err
	}
	if f.watch {
		cfg.PHP.Watch = true
	}
	return cfg, nil
}
