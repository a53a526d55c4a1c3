package drain

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ws-drain/ws-drain/helper/internal/httpcall"
	"github.com/ws-drain/ws-drain/helper/internal/jsonlog"
	"github.com/ws-drain/ws-drain/helper/internal/procnet"
)

// hookKillWait is how long after killing the exec hook's process group we
// still wait for it to be reaped.
const hookKillWait = time.Second

// IsLoopbackHost reports whether a URL host names the local machine:
// "localhost", 127.0.0.0/8, ::1 (also written IPv4-mapped).
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// localOnlyDialer refuses to connect anywhere but loopback or the one
// address a listener in this network namespace is bound to, checked on the
// resolved address: "localhost" could resolve elsewhere through a rewritten
// /etc/hosts, and the drain call must never leave the pod.
func localOnlyDialer(bound netip.Addr) *net.Dialer {
	return &net.Dialer{
		Timeout: triggerTimeout,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("drain-url: refusing to connect to %s", address)
			}
			a := ap.Addr().Unmap()
			if a.IsLoopback() || (bound.IsValid() && a == bound.Unmap()) {
				return nil
			}
			return fmt.Errorf("drain-url: refusing to connect to %s: neither loopback nor a listener of this pod", address)
		},
	}
}

// ListenAddrFor picks where to reach a listener on port, from the LISTEN
// entries of /proc/net/tcp{,6}: an app bound only to the pod IP or only to
// ::1 never answers on 127.0.0.1. Loopback and wildcard listeners keep the
// URL's own loopback host (ok false); otherwise the bound address is
// returned (ok true). No listener visible: ok false, the URL is used as given.
func ListenAddrFor(entries []procnet.Entry, port uint16) (addr netip.Addr, ok bool) {
	var v6loop, specific netip.Addr
	for _, e := range entries {
		if e.State != procnet.StateListen || e.LocalPort != port {
			continue
		}
		a := e.LocalAddr.Unmap()
		switch {
		case a.Is4() && (a.IsUnspecified() || a == netip.AddrFrom4([4]byte{127, 0, 0, 1})):
			return netip.Addr{}, false // 127.0.0.1 answers
		case a.IsUnspecified() || a == netip.IPv6Loopback():
			v6loop = netip.IPv6Loopback()
		case !specific.IsValid():
			specific = a
		}
	}
	if v6loop.IsValid() {
		return v6loop, true
	}
	if specific.IsValid() {
		return specific, true
	}
	return netip.Addr{}, false
}

// drainTarget is the drain URL with its host moved to where the listener is.
func drainTarget(ctx context.Context, cfg Config, tables *tableReader) (*url.URL, netip.Addr) {
	return listenerTarget(ctx, cfg.DrainURL, tables)
}

// listenerTarget is u (a loopback URL) with its host moved to where the
// listener on its port is bound; the address is invalid when u stays as it is.
func listenerTarget(ctx context.Context, u *url.URL, tables *tableReader) (*url.URL, netip.Addr) {
	port, err := strconv.ParseUint(u.Port(), 10, 16)
	if err != nil || port == 0 {
		return u, netip.Addr{}
	}
	var entries []procnet.Entry
	_, _ = tables.read(ctx, func(e procnet.Entry) {
		if e.State == procnet.StateListen && e.LocalPort == uint16(port) {
			entries = append(entries, e)
		}
	})
	addr, ok := ListenAddrFor(entries, uint16(port))
	if !ok {
		return u, netip.Addr{}
	}
	moved := *u
	moved.Host = net.JoinHostPort(addr.String(), u.Port())
	return &moved, addr
}

func callDrainURL(ctx context.Context, cfg Config, tables *tableReader, log *jsonlog.Logger) {
	if !IsLoopbackHost(cfg.DrainURL.Hostname()) {
		log.Error("trigger", "drain-url refused: host is not loopback (only 127.0.0.0/8, ::1, localhost are allowed)", "drain_url", cfg.DrainURL.String())
		return
	}
	u, bound := drainTarget(ctx, cfg, tables)
	if bound.IsValid() {
		log.Info("trigger", "the listener is not on 127.0.0.1: calling the address it is bound to", "drain_url", u.String())
	}
	method := cfg.DrainMethod
	if method == "" {
		method = "GET"
	}
	start := time.Now()
	status, err := httpcall.Do(ctx, httpcall.Request{Method: method, URL: u, Timeout: triggerTimeout, Dialer: localOnlyDialer(bound)})
	if err != nil {
		log.Error("trigger", "drain-url call failed; continuing with the drain", "method", method, "drain_url", u.String(), "error", err, "elapsed", since(start))
		return
	}
	level := "info"
	if status >= 400 {
		level = "warn"
	}
	log.Log(level, "trigger", "drain-url called", "method", method, "drain_url", u.String(), "status", status, "elapsed", since(start))
}

func hasHook(cfg Config) bool { return len(cfg.HookArgv) > 0 || cfg.HookURL != nil }

// runHooks runs the pod's original preStop: the exec argv, then the httpGet
// (the webhook passes at most one of them), each bounded by timeout. It
// returns the exec hook's exit code, -1 if none ran or it was killed.
func runHooks(ctx context.Context, cfg Config, timeout time.Duration, log *jsonlog.Logger) int {
	code := -1
	if !hasHook(cfg) {
		log.Info("hook", "no original preStop hook to run")
		return code
	}
	if len(cfg.HookArgv) > 0 {
		code = runExecHook(ctx, cfg, timeout, log)
	}
	if cfg.HookURL != nil && ctx.Err() == nil {
		runHTTPHook(ctx, cfg, timeout, log)
	}
	return code
}

// startHooks runs the original hook as the drain trigger, in the background.
// The channel yields its exit code once it has finished (or was killed at timeout).
func startHooks(ctx context.Context, cfg Config, timeout time.Duration, log *jsonlog.Logger) <-chan int {
	log.Info("trigger", "running the pod's own preStop as the drain trigger, while watching connections")
	done := make(chan int, 1)
	go func() { done <- runHooks(ctx, cfg, timeout, log) }()
	return done
}

// awaitTriggerHook gives a trigger hook at most wait after the watch ended
// (the drain is over: a hook still running is stuck, or waits for something
// that is not coming), then stops it and collects its exit code.
func awaitTriggerHook(ctx context.Context, done <-chan int, stop context.CancelFunc, wait time.Duration, log *jsonlog.Logger) int {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case code := <-done:
		return code
	case <-ctx.Done():
		return -1
	case <-t.C:
	}
	log.Error("hook", "the pod's own preStop was still running after the drain; stopping it", "waited", wait)
	stop()
	select {
	case code := <-done:
		return code
	case <-time.After(hookKillWait + time.Second):
		return -1
	}
}

func runExecHook(ctx context.Context, cfg Config, timeout time.Duration, log *jsonlog.Logger) int {
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(hctx, cfg.HookArgv[0], cfg.HookArgv[1:]...)
	cmd.Stdin = nil
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	// Own process group, so a timeout kills what a shell hook started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = hookKillWait
	log.Info("hook", "running the original exec preStop", "argv", cfg.HookArgv, "timeout", timeout)
	start := time.Now()
	err := cmd.Run()
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	switch {
	case err == nil:
		log.Info("hook", "original exec preStop finished", "exit_code", code, "elapsed", since(start))
	case hctx.Err() != nil && ctx.Err() == nil:
		log.Error("hook", "original exec preStop timed out and was killed", "exit_code", code, "timeout", timeout, "elapsed", since(start))
	default:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			log.Warn("hook", "original exec preStop failed", "exit_code", code, "elapsed", since(start))
		} else {
			log.Error("hook", "original exec preStop could not run", "error", err, "elapsed", since(start))
		}
	}
	return code
}

func runHTTPHook(ctx context.Context, cfg Config, timeout time.Duration, log *jsonlog.Logger) {
	// Like kubelet: any host (it is the pod's own hook), no proxy.
	u := cfg.HookURL.String()
	if cfg.HookURL.Scheme != "http" {
		log.Error("hook", "original httpGet preStop skipped: this helper speaks plain http only (no TLS, to stay small)", "url", u)
		return
	}
	target := cfg.HookURL
	// A hook without a host is written as 127.0.0.1 (kubelet would have called
	// the pod IP): an app listening only on the pod IP or ::1 gets it there.
	if IsLoopbackHost(target.Hostname()) {
		if moved, bound := listenerTarget(ctx, target, newTableReader(cfg.ProcRoot)); bound.IsValid() {
			target = moved
			u = target.String()
			log.Info("hook", "the listener is not on 127.0.0.1: calling the address it is bound to", "url", u)
		}
	}
	log.Info("hook", "calling the original httpGet preStop", "url", u, "timeout", timeout)
	start := time.Now()
	status, err := httpcall.Do(ctx, httpcall.Request{Method: "GET", URL: target, Headers: cfg.HookHeaders, Timeout: timeout})
	switch {
	case err != nil:
		log.Error("hook", "original httpGet preStop failed", "url", u, "error", err, "elapsed", since(start))
	case status < 200 || status >= 400:
		log.Warn("hook", "original httpGet preStop returned an error status", "url", u, "status", status, "elapsed", since(start))
	default:
		log.Info("hook", "original httpGet preStop finished", "url", u, "status", status, "elapsed", since(start))
	}
}
