// Package drain is the preStop timeline: wait for endpoint removal to
// propagate (D), tell the app to drain, watch its established connections
// close for at most the session budget (S), then run the pod's original
// preStop hook.
//
// Everything here is bounded. The delay, trigger and watch phases share one
// context whose deadline is D + S + Slack, every /proc read and HTTP call is
// tied to a context or a timeout, and anything unexpected (a missing table, a
// vanished process, a dead drain endpoint) is logged and the timeline moves
// on: a stuck preStop would hold the pod in Terminating until the grace period
// runs out, which is exactly the outage ws-drain exists to prevent.
package drain

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ws-drain/ws-drain/helper/internal/httpcall"
	"github.com/ws-drain/ws-drain/helper/internal/jsonlog"
	"github.com/ws-drain/ws-drain/helper/internal/procnet"
	"github.com/ws-drain/ws-drain/helper/internal/sockowner"
)

// Slack is what the delay+trigger+watch phases may exceed D + S by.
const Slack = 2 * time.Second

// triggerTimeout bounds the owner lookup and the drain-url call each, so the
// trigger eats at most a small part of the budget.
const triggerTimeout = 2 * time.Second

// MinHookTimeout is the smallest bound given to the original hook: a 0s
// cleanup must not turn into killing the hook before it starts.
const MinHookTimeout = time.Second

// Header is one header of the original httpGet hook.
type Header = httpcall.Header

// Config is the parsed prestop command line plus the knobs tests need.
type Config struct {
	Container   string
	Delay       time.Duration
	Budget      time.Duration
	Ports       []uint16
	Signal      syscall.Signal // 0 = none
	SignalName  string
	DrainURL    *url.URL
	DrainMethod string
	HookURL     *url.URL
	HookHeaders []Header
	HookTimeout time.Duration
	HookArgv    []string
	// HookAsTrigger: the original hook is how the server drains (NATS lame
	// duck, nginx -s quit, Envoy drain_listeners): it is started when the
	// drain starts, runs while the connections are watched, and is waited
	// for (at most HookTimeout more) once the watch ends.
	HookAsTrigger bool
	// Proxy: this container carries traffic for the app (a mesh proxy, a TLS
	// sidecar). It waits for the app's sessions to close and triggers nothing.
	Proxy bool

	// ProcRoot is where /proc is (fixture trees in tests).
	ProcRoot string
	// PollInterval and ReportInterval default to 200 ms and 5 s.
	PollInterval   time.Duration
	ReportInterval time.Duration
}

// Result says how the drain ended.
type Result struct {
	Drained     bool // the count reached 0 before the budget ran out
	Left        int  // connections still open at the end of the watch (-1: unknown)
	Interrupted bool // the parent context was cancelled (the helper got SIGTERM)
	HookExit    int  // exit code of the exec hook (-1: none ran, or it did not exit normally)
}

// HardBound is the longest the whole prestop may take: drain phases, then the
// hooks, each with a little slack. main arms a watchdog with it.
func HardBound(cfg Config) time.Duration {
	// A trigger hook runs within D + S and then at most hookTimeout more:
	// the same bound as a hook run after the drain.
	d := cfg.Delay + cfg.Budget + Slack
	if len(cfg.HookArgv) > 0 {
		d += hookTimeout(cfg) + hookKillWait + time.Second
	}
	if cfg.HookURL != nil {
		d += hookTimeout(cfg) + time.Second
	}
	return d
}

func hookTimeout(cfg Config) time.Duration {
	if cfg.HookTimeout < MinHookTimeout {
		return MinHookTimeout
	}
	return cfg.HookTimeout
}

// Run executes the timeline. It returns when the hook has finished, or
// promptly when ctx is cancelled.
func Run(ctx context.Context, cfg Config, log *jsonlog.Logger) Result {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	if cfg.ReportInterval <= 0 {
		cfg.ReportInterval = 5 * time.Second
	}
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	res := Result{Left: -1, HookExit: -1}
	start := time.Now()
	drainCtx, cancel := context.WithDeadline(ctx, start.Add(cfg.Delay+cfg.Budget+Slack))
	defer cancel()

	log.Info("delay", "waiting for endpoint removal to propagate; new connections are still accepted", "delay", cfg.Delay)
	if !Sleep(drainCtx, cfg.Delay) && ctx.Err() != nil {
		res.Interrupted = true
		log.Warn("exit", "interrupted during delay", "elapsed", since(start))
		return res
	}

	watchEnd := time.Now().Add(cfg.Budget)
	tables := newTableReader(cfg.ProcRoot)
	var hookDone <-chan int
	hookCtx, stopHook := context.WithCancel(ctx)
	defer stopHook()
	if cfg.HookAsTrigger && !cfg.Proxy && hasHook(cfg) {
		// Started first; bounded by the budget plus the hook timeout, by
		// SIGTERM (ctx), and by the hook timeout once the watch has ended.
		hookDone = startHooks(hookCtx, cfg, cfg.Budget+hookTimeout(cfg), log)
	}
	trigger(drainCtx, cfg, tables, log)

	switch {
	case cfg.Budget <= 0:
		log.Info("watch", "drain budget is 0s: not watching connections")
	case len(cfg.Ports) == 0:
		log.Warn("watch", "no ports given: nothing to watch")
	default:
		res.Drained, res.Left = watch(drainCtx, cfg, tables, watchEnd, log)
	}
	cancel()
	if ctx.Err() != nil {
		res.Interrupted = true
		log.Warn("exit", "interrupted while draining", "elapsed", since(start), "left", res.Left)
		return res
	}

	if hookDone != nil {
		res.HookExit = awaitTriggerHook(ctx, hookDone, stopHook, hookTimeout(cfg), log)
	} else {
		res.HookExit = runHooks(ctx, cfg, hookTimeout(cfg), log)
	}
	if ctx.Err() != nil {
		res.Interrupted = true
	}
	return res
}

// Sleep waits d; false when ctx ended first. (Also the `sleep` subcommand.)
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func since(t time.Time) string { return time.Since(t).Round(time.Millisecond).String() }

// trigger sends the drain signal and/or calls the drain URL.
func trigger(ctx context.Context, cfg Config, tables *tableReader, log *jsonlog.Logger) {
	if cfg.Proxy {
		log.Info("trigger", "proxy container: not signalled; staying up until the app's sessions have closed")
		return
	}
	if cfg.Signal == 0 && cfg.DrainURL == nil {
		if cfg.HookAsTrigger && hasHook(cfg) {
			return
		}
		log.Info("trigger", "no drain signal or drain-url configured: the app drains on SIGTERM after this hook")
		return
	}
	if cfg.Signal != 0 {
		sendSignal(ctx, cfg, tables, log)
	}
	if cfg.DrainURL != nil {
		callDrainURL(ctx, cfg, tables, log)
	}
}

func sendSignal(ctx context.Context, cfg Config, tables *tableReader, log *jsonlog.Logger) {
	lctx, cancel := context.WithTimeout(ctx, triggerTimeout)
	defer cancel()
	pid, owners, reason := signalTarget(lctx, cfg, tables)
	if pid <= 0 {
		log.Warn("trigger", "no process signalled", "signal", cfg.SignalName, "reason", reason)
		return
	}
	err := syscall.Kill(pid, cfg.Signal)
	if err != nil {
		log.Error("trigger", "could not send drain signal", "signal", cfg.SignalName, "pid", pid, "reason", reason, "error", err)
		return
	}
	log.Info("trigger", "sent drain signal", "signal", cfg.SignalName, "pid", pid, "owners", owners, "reason", reason)
}

// signalTarget picks the process owning a listening socket on one of the
// ports, in this container. With several owners (a master that forked
// workers sharing the socket) the lowest PID is chosen: the oldest process,
// normally the master that forwards the signal to its workers. When no owner
// is visible nobody is signalled: PID 1 may be a mesh agent, a shell or an
// init that does not serve the sessions, and a signal it does not handle
// kills it.
func signalTarget(ctx context.Context, cfg Config, tables *tableReader) (pid int, owners []int, reason string) {
	inodes, ports := listeningInodes(ctx, cfg, tables)
	if len(inodes) == 0 {
		return 0, nil, "no listening socket on the ports is visible in " + filepath.Join(cfg.ProcRoot, "net", "tcp{,6}") + "; the app drains on SIGTERM after this hook"
	}
	all, err := ownersWithin(ctx, cfg.ProcRoot, inodes)
	owners, others := sockowner.SameContainer(cfg.ProcRoot, all)
	if len(owners) > 0 {
		return owners[0], owners, "owns the listening socket on port " + ports
	}
	why := "no process in this container holds the listening socket on port " + ports
	if len(others) > 0 {
		why += " (it is in another container of the pod: " + strconv.Itoa(others[0]) + ")"
	}
	if err != nil {
		why = "owner lookup failed (" + err.Error() + ")"
	}
	return 0, nil, why
}

// ownersWithin is sockowner.Owners, abandoned when ctx ends: opening a
// /proc/<pid>/fd that is not a real /proc entry (a FIFO in a hostile tree)
// blocks in open(2), which no context can interrupt. The abandoned scan costs
// one goroutine; the drain goes on.
func ownersWithin(ctx context.Context, procRoot string, inodes map[uint64]bool) ([]int, error) {
	type result struct {
		owners []int
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		owners, err := sockowner.Owners(ctx, procRoot, inodes, os.Getpid())
		ch <- result{owners, err}
	}()
	select {
	case r := <-ch:
		return r.owners, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("owner lookup abandoned: %w", ctx.Err())
	}
}

func listeningInodes(ctx context.Context, cfg Config, tables *tableReader) (map[uint64]bool, string) {
	want := portSet(cfg.Ports)
	inodes := map[uint64]bool{}
	found := ""
	_, _ = tables.read(ctx, func(e procnet.Entry) {
		if e.State == procnet.StateListen && want[e.LocalPort] && e.Inode != 0 {
			inodes[e.Inode] = true
			if found == "" {
				found = strconv.Itoa(int(e.LocalPort))
			}
		}
	})
	return inodes, found
}

func portSet(ports []uint16) map[uint16]bool {
	m := make(map[uint16]bool, len(ports))
	for _, p := range ports {
		m[p] = true
	}
	return m
}

// tableError is a table that could not be read.
type tableError struct {
	Path string
	Err  error
}

// tableReadTimeout bounds one read of one table. /proc/net/tcp never
// blocks on a real kernel; this is for everything else (a FUSE or FIFO where
// a table should be).
const tableReadTimeout = time.Second

// tableReader reads /proc/net/tcp and tcp6. A read that does not finish in
// time is abandoned, and that table is skipped until the abandoned read
// returns, so a stuck file costs one goroutine, not one per poll.
type tableReader struct {
	procRoot string
	mu       sync.Mutex
	pending  map[string]bool
}

func newTableReader(procRoot string) *tableReader {
	return &tableReader{procRoot: procRoot, pending: map[string]bool{}}
}

type tableResult struct {
	entries []procnet.Entry
	err     error
}

// read scans both tables and calls fn per entry (on the caller's goroutine).
// It returns how many tables were read, and the problems.
func (r *tableReader) read(ctx context.Context, fn func(procnet.Entry)) (int, []tableError) {
	read := 0
	var errs []tableError
	for _, name := range []string{"tcp", "tcp6"} {
		p := filepath.Join(r.procRoot, "net", name)
		entries, err := r.readOne(ctx, p)
		if err != nil {
			errs = append(errs, tableError{p, err})
			if entries == nil {
				continue
			}
		}
		read++
		for _, e := range entries {
			fn(e)
		}
	}
	return read, errs
}

// readOne returns the entries of one table. err with non-nil entries is a
// warning (some lines skipped); err with nil entries means unreadable.
func (r *tableReader) readOne(ctx context.Context, p string) ([]procnet.Entry, error) {
	r.mu.Lock()
	if r.pending[p] {
		r.mu.Unlock()
		return nil, errors.New("an earlier read of this table is still blocked")
	}
	r.pending[p] = true
	r.mu.Unlock()

	ch := make(chan tableResult, 1) // buffered: an abandoned read must not block forever
	go func() {
		defer func() {
			r.mu.Lock()
			delete(r.pending, p)
			r.mu.Unlock()
		}()
		entries := []procnet.Entry{}
		st, err := procnet.ScanFile(p, procnet.DefaultMaxBytes, func(e procnet.Entry) { entries = append(entries, e) })
		switch {
		case err != nil:
			ch <- tableResult{nil, err}
		case st.Entries == 0 && st.Malformed > 0:
			// Content but no parsable line is not "0 connections": it is
			// unreadable, and waiting out the budget is the safe answer.
			ch <- tableResult{nil, fmt.Errorf("no parsable line (%d malformed)", st.Malformed)}
		case st.Truncated:
			ch <- tableResult{entries, errors.New("table larger than the read cap; counted the first part only")}
		case st.Malformed > 0:
			ch <- tableResult{entries, fmt.Errorf("%d %w", st.Malformed, errMalformedSkipped)}
		default:
			ch <- tableResult{entries, nil}
		}
	}()
	t := time.NewTimer(tableReadTimeout)
	defer t.Stop()
	select {
	case res := <-ch:
		return res.entries, res.err
	case <-t.C:
		return nil, fmt.Errorf("read did not finish within %s", tableReadTimeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// countEstablished counts ESTABLISHED sockets whose local port is watched,
// over IPv4 and IPv6 (IPv4 clients of a dual-stack listener show up in tcp6
// with IPv4-mapped addresses and are counted there). ok is false when the
// count cannot be trusted to be complete and is 0: a table that could not be
// read (only a missing tcp6, IPv6 disabled in the pod, is a real absence) or
// was cut at the read cap. An unreadable tcp beside a readable tcp6 is not
// "no IPv4 connections": the drain waits instead of ending at once. A
// positive count from a partial read is a lower bound and still reported.
func countEstablished(ctx context.Context, tables *tableReader, want map[uint16]bool) (n int, ok bool, errs []tableError) {
	read, errs := tables.read(ctx, func(e procnet.Entry) {
		if e.State == procnet.StateEstablished && want[e.LocalPort] {
			n++
		}
	})
	complete := read > 0
	for _, te := range errs {
		if !tableAbsentOK(te) && !errors.Is(te.Err, errMalformedSkipped) {
			complete = false
		}
	}
	return n, complete || (read > 0 && n > 0), errs
}

// tableAbsentOK: a pod with IPv6 disabled has no tcp6 table at all.
func tableAbsentOK(te tableError) bool {
	return errors.Is(te.Err, os.ErrNotExist) && filepath.Base(te.Path) == "tcp6"
}

// errMalformedSkipped marks a table read in full with some unparsable lines
// skipped: the count of the rest is used.
var errMalformedSkipped = errors.New("malformed lines skipped")

// watch polls the count until it is 0 or end passes. It returns whether the
// count reached 0 and the last count (-1 if never known).
func watch(ctx context.Context, cfg Config, tables *tableReader, end time.Time, log *jsonlog.Logger) (bool, int) {
	want := portSet(cfg.Ports)
	watchStart := time.Now()
	wctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	last, lastLogged := -1, -1
	var lastReport time.Time
	warned := map[string]bool{}
	tick := time.NewTicker(cfg.PollInterval)
	defer tick.Stop()
	for {
		n, ok, errs := countEstablished(wctx, tables, want)
		for _, te := range errs {
			if wctx.Err() == nil && !warned[te.Path] {
				warned[te.Path] = true
				level := "warn"
				if tableAbsentOK(te) {
					level = "info" // IPv6 disabled in this pod: normal
				}
				log.Log(level, "watch", "connection table not readable", "path", te.Path, "error", te.Err)
			}
		}
		if wctx.Err() != nil {
			break
		}
		if !ok {
			if !warned["*"] {
				warned["*"] = true
				log.Warn("watch", "cannot count connections; waiting the full drain budget", "budget", cfg.Budget)
			}
		} else {
			last = n
			if n == 0 {
				log.Info("watch", "all watched connections closed", "established", 0, "elapsed", since(watchStart))
				return true, 0
			}
			if lastLogged < 0 || time.Since(lastReport) >= cfg.ReportInterval || bigChange(lastLogged, n) {
				log.Info("watch", "waiting for connections to close", "established", n, "elapsed", since(watchStart), "remaining", time.Until(end).Round(time.Second))
				lastLogged, lastReport = n, time.Now()
			}
		}
		select {
		case <-tick.C:
		case <-wctx.Done():
		}
		if wctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil && time.Now().Before(end) {
		return false, last // interrupted, or the hard bound hit; the caller logs
	}
	log.Warn("watch", "drain budget elapsed with connections still open", "left", last, "budget", cfg.Budget)
	return false, last
}

// bigChange: a change of a quarter of the last logged count (at least 1) is
// worth a line; small pods then log every close, big ones stay readable.
func bigChange(prev, n int) bool {
	d := n - prev
	if d < 0 {
		d = -d
	}
	threshold := prev / 4
	if threshold < 1 {
		threshold = 1
	}
	return d >= threshold
}
