// Command thinkgate is a real-time push gateway and resident PHP app server
// for PHP web apps: a drop-in for Workerman/GatewayWorker in one binary.
//
//	thinkgate start [-c thinkgate.toml]   run in the foreground
//	thinkgate config [-c thinkgate.toml]  print the effective config
//	thinkgate version                     print the version
//	thinkgate bench ...                   the load tool (thinkgate bench -h)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"thinkgate/internal/bench"
	"thinkgate/internal/config"
	"thinkgate/internal/server"
)

const usage = `usage: thinkgate <command> [flags]

commands:
  start     run the gateway in the foreground (Ctrl-C or SIGTERM stops it gracefully)
  config    print the effective configuration as a commented TOML file
  version   print the version
  bench     run the load tool against a running thinkgate (thinkgate bench -h)

flags of start and config:
  -c FILE   config file (default ./thinkgate.toml when present; THINKGATE_* environment variables override it)
  -watch    reload the PHP workers when the app's files change (development)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version", "-v", "--version":
		fmt.Fprintln(stdout, "thinkgate", server.Version)
		return 0
	case "start", "config":
		return startOrConfig(args[0], args[1:], stdout, stderr)
	case "bench":
		if err := bench.Main(args[1:], stdout, stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintln(stderr, "thinkgate bench:", err)
			return 1
		}
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "thinkgate: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func startOrConfig(cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "config file")
	watchFiles := fs.Bool("watch", false, "reload PHP workers when the app's files change (php.watch)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	path, explicit := *file, *file != ""
	if !explicit {
		path = config.DefaultFile
	}
	cfg, err := config.Load(path, explicit, os.Environ())
	if err != nil {
		fmt.Fprintln(stderr, "thinkgate:", err)
		return 1
	}
	if *watchFiles {
		cfg.PHP.Watch = true
	}
	if cmd == "config" {
		if err := config.Write(stdout, &cfg); err != nil {
			fmt.Fprintln(stderr, "thinkgate:", err)
			return 1
		}
		return 0
	}
	log := newLogger(cfg.Log, stderr)
	node, err := server.Listen(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "thinkgate:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		for range reloadSignals() {
			log.Info("reloading (SIGUSR1): TLS certificates and PHP workers")
			if err := node.Reload(); err != nil {
				log.Error("reload incomplete; what failed keeps its old state", "err", err)
			}
		}
	}()
	if err := node.Run(ctx); err != nil {
		log.Error("exit", "err", err)
		return 1
	}
	return 0
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(strings.ToUpper(c.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
