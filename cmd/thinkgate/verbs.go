package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"thinkgate/internal/config"
	"thinkgate/internal/control"
	"thinkgate/internal/phpworker"
)

// controlTimeout bounds one control request that has no long work to do.
const controlTimeout = 5 * time.Second

func stop(f *flags, stdout, stderr io.Writer) int {
	in := locate(f.configured)
	if in.state != exitOK {
		return in.notRunning(stderr)
	}
	return stopInstance(in, f.graceful, f.configured, stdout, stderr)
}

// stopInstance asks the instance to stop and waits until its process is
// gone.
func stopInstance(in instance, graceful bool, cfg config.Config, stdout, stderr io.Writer) int {
	path := "/stop"
	if graceful {
		path += "?graceful=1"
	}
	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	defer cancel()
	if err := in.client.Do(ctx, "POST", path, nil); err != nil {
		fmt.Fprintln(stderr, "thinkgate:", err)
		return exitFailed
	}
	wait := cfg.Process.StopTimeout.Duration + 15*time.Second
	deadline := time.Now().Add(wait)
	for control.Alive(in.pid) {
		if time.Now().After(deadline) {
			fmt.Fprintf(stderr, "thinkgate: pid %d is still running %s after the stop request\n", in.pid, wait)
			return exitFailed
		}
		time.Sleep(20 * time.Millisecond)
	}
	how := "stopped"
	if graceful {
		how = "stopped gracefully"
	}
	fmt.Fprintf(stdout, "thinkgate %s (pid %d)\n", how, in.pid)
	return exitOK
}

func reload(f *flags, stdout, stderr io.Writer) int {
	in := locate(f.configured)
	if in.state != exitOK {
		return in.notRunning(stderr)
	}
	// Booting a new worker generation takes up to php.boot_timeout.
	ctx, cancel := context.WithTimeout(context.Background(), f.configured.PHP.BootTimeout.Duration*2+controlTimeout)
	defer cancel()
	var rep control.ReloadReport
	if err := in.client.Do(ctx, "POST", "/reload", &rep); err != nil {
		fmt.Fprintln(stderr, "thinkgate:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "thinkgate reloaded (pid %d); no WebSocket client was disconnected\n", in.pid)
	list := func(label string, items []string) {
		if len(items) > 0 {
			fmt.Fprintf(stdout, "  %s: %s\n", label, strings.Join(items, ", "))
		}
	}
	list("renewed", rep.Reloaded)
	list("config applied", rep.Applied)
	list("changed but needs a restart", rep.NeedsRestart)
	for _, k := range rep.Kept {
		fmt.Fprintln(stdout, "  kept:", k)
	}
	if len(rep.Errors) > 0 {
		for _, e := range rep.Errors {
			fmt.Fprintln(stderr, "thinkgate: reload:", e)
		}
		return exitFailed
	}
	return exitOK
}

// statusDoc is the part of the status document the table shows.
type statusDoc struct {
	Version    string  `json:"version"`
	PID        int     `json:"pid"`
	Started    string  `json:"started"`
	Uptime     int64   `json:"uptime_seconds"`
	Clients    int     `json:"clients"`
	UIDs       int     `json:"uids"`
	Groups     int     `json:"groups"`
	Goroutines int     `json:"goroutines"`
	In         float64 `json:"messages_in_per_second"`
	Out        float64 `json:"messages_out_per_second"`
	Memory     struct {
		Heap uint64 `json:"heap_alloc_bytes"`
		Sys  uint64 `json:"sys_bytes"`
		RSS  int64  `json:"rss_bytes"`
	} `json:"memory"`
	Listeners map[string]struct {
		Addr     string           `json:"addr"`
		Stats    *json.RawMessage `json:"stats"`
		Accepted *uint64          `json:"accepted"`
		Active   *int64           `json:"active"`
		Requests *uint64          `json:"requests"`
		Packets  *uint64          `json:"packets"`
		PHP      *phpworker.Stats `json:"php"`
	} `json:"listeners"`
	Cluster struct {
		Engine string `json:"engine"`
		Addr   string `json:"addr"`
		Nodes  []struct {
			Addr string `json:"addr"`
		} `json:"nodes"`
		Stats struct {
			Sent     uint64 `json:"requests_sent"`
			Received uint64 `json:"requests_received"`
		} `json:"stats"`
		RedisOK bool `json:"redis_ok"`
	} `json:"cluster"`
}

func status(f *flags, stdout, stderr io.Writer) int {
	in := locate(f.configured)
	if in.state != exitOK {
		return in.notRunning(stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	defer cancel()
	if f.json {
		var doc json.RawMessage
		if err := in.client.Do(ctx, "GET", "/status", &doc); err != nil {
			fmt.Fprintln(stderr, "thinkgate:", err)
			return exitFailed
		}
		stdout.Write(append(doc, '\n'))
		return exitOK
	}
	s := in.status
	fmt.Fprintf(stdout, "thinkgate %s   pid %d   started %s   up %s\n", s.Version, s.PID, s.Started, time.Duration(s.Uptime)*time.Second)
	fmt.Fprintf(stdout, "connections %d   uids %d   groups %d   messages in %.1f/s   out %.1f/s\n", s.Clients, s.UIDs, s.Groups, s.In, s.Out)
	fmt.Fprintf(stdout, "memory: rss %s   go heap %s   goroutines %d\n", size(s.Memory.RSS), size(int64(s.Memory.Heap)), s.Goroutines)
	if c := s.Cluster; c.Engine != "" && c.Engine != "memory" {
		var addrs []string
		for _, n := range c.Nodes {
			addrs = append(addrs, n.Addr)
		}
		state := "redis ok"
		if !c.RedisOK {
			state = "REDIS UNREACHABLE"
		}
		fmt.Fprintf(stdout, "cluster: %s, this node %s, %d nodes (%s), %s, %d requests sent, %d received\n",
			c.Engine, c.Addr, len(c.Nodes), strings.Join(addrs, " "), state, c.Stats.Sent, c.Stats.Received)
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LISTENER\tADDRESS\tACTIVITY")
	names := make([]string, 0, len(s.Listeners))
	for name := range s.Listeners {
		names = append(names, name)
	}
	order := map[string]int{"ws": 0, "http": 1, "api": 2, "text": 3, "register": 4, "inner": 5}
	sort.Slice(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	for _, name := range names {
		l := s.Listeners[name]
		var act []string
		if l.Stats != nil {
			var ws struct {
				Accepted uint64 `json:"accepted"`
				Active   int64  `json:"active"`
				Slow     uint64 `json:"closed_slow"`
			}
			json.Unmarshal(*l.Stats, &ws)
			act = append(act, fmt.Sprintf("%d open, %d accepted, %d closed as slow", ws.Active, ws.Accepted, ws.Slow))
		}
		if l.Active != nil {
			act = append(act, fmt.Sprintf("%d open", *l.Active))
		}
		if l.Requests != nil {
			act = append(act, fmt.Sprintf("%d requests", *l.Requests))
		}
		if l.Packets != nil {
			act = append(act, fmt.Sprintf("%d packets", *l.Packets))
		}
		if l.PHP != nil {
			act = append(act, fmt.Sprintf("%d PHP requests", l.PHP.Served))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, l.Addr, strings.Join(act, ", "))
	}
	tw.Flush()
	if l, ok := s.Listeners["http"]; ok && l.PHP != nil {
		p := l.PHP
		app := "a plain handler"
		if p.Adapter == "thinkphp" {
			app = "ThinkPHP " + p.Framework + " (ThinkPHP adapter)"
		}
		fmt.Fprintf(stdout, "\nPHP app: %s\nPHP workers: %d (generation %d)   served %d   crashed %d   started %d\n", app, p.Workers, p.Gen, p.Served, p.Crashed, p.Spawned)
		if p.LastErr != "" {
			fmt.Fprintf(stdout, "last boot error: %s\n", p.LastErr)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PID\tSTATE\tREQUESTS\tPHP MEMORY\tRSS\tUPTIME")
		for _, w := range p.Procs {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\n", w.PID, w.State, w.Requests, size(w.PHPMemory), size(w.RSS), time.Duration(w.UptimeSeconds)*time.Second)
		}
		tw.Flush()
	}
	return exitOK
}

func connections(f *flags, stdout, stderr io.Writer) int {
	in := locate(f.configured)
	if in.state != exitOK {
		return in.notRunning(stderr)
	}
	body, err := in.client.Stream(context.Background(), fmt.Sprintf("/connections?limit=%d", f.limit))
	if err != nil {
		fmt.Fprintln(stderr, "thinkgate:", err)
		return exitFailed
	}
	defer body.Close()
	if f.json {
		io.Copy(stdout, body)
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT_ID\tUID\tGROUPS\tREMOTE\tAGE")
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		var c control.Connection
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			fmt.Fprintln(stderr, "thinkgate: connections:", err)
			return exitFailed
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ClientID, dash(c.UID), dash(strings.Join(c.Groups, ",")), c.Remote, time.Duration(c.AgeSeconds)*time.Second)
		n++
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d connections\n", n)
	if err := sc.Err(); err != nil {
		fmt.Fprintln(stderr, "thinkgate: connections:", err)
		return exitFailed
	}
	return exitOK
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// size prints a byte count in binary units.
func size(n int64) string {
	switch {
	case n <= 0:
		return "-"
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}
