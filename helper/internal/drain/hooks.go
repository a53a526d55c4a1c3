package drain

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/ws-drain/ws-drain/helper/internal/httpcall"
	"github.com/ws-drain/ws-drain/helper/internal/jsonlog"
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

// loopbackOnlyDialer refuses to connect anywhere but loopback, checked on the
// resolved address: "localhost" could resolve elsewhere through a rewritten
// /etc/hosts, and the drain call must never leave the pod.
var loopbackOnlyDialer = &net.Dialer{
	Timeout: triggerTimeout,
	Control: func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			return fmt.Errorf("drain-url: refusing to connect to non-loopback address %s", address)
		}
		return nil
	},
}

func callDrainURL(ctx context.Context, cfg Config, log *jsonlog.Logger) {
	u := cfg.DrainURL
	if !IsLoopbackHost(u.Hostname()) {
		log.Error("trigger", "drain-url refused: host is not loopback (only 127.0.0.0/8, ::1, localhost are allowed)", "drain_url", u.String())
		return
	}
	method := cfg.DrainMethod
	if method == "" {
		method = "GET"
	}
	start := time.Now()
	status, err := httpcall.Do(ctx, httpcall.Request{Method: method, URL: u, Timeout: triggerTimeout, Dialer: loopbackOnlyDialer})
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

// runHooks runs the pod's original preStop after the drain: the exec argv,
// then the httpGet (the webhook passes at most one of them). It returns the
// exec hook's exit code, -1 if none ran or it was killed.
func runHooks(ctx context.Context, cfg Config, log *jsonlog.Logger) int {
	code := -1
	if len(cfg.HookArgv) == 0 && cfg.HookURL == nil {
		log.Info("hook", "no original preStop hook to run")
		return code
	}
	if len(cfg.HookArgv) > 0 {
		code = runExecHook(ctx, cfg, log)
	}
	if cfg.HookURL != nil && ctx.Err() == nil {
		runHTTPHook(ctx, cfg, log)
	}
	return code
}

func runExecHook(ctx context.Context, cfg Config, log *jsonlog.Logger) int {
	timeout := hookTimeout(cfg)
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

func runHTTPHook(ctx context.Context, cfg Config, log *jsonlog.Logger) {
	timeout := hookTimeout(cfg)
	// Like kubelet: any host (it is the pod's own hook), no proxy.
	u := cfg.HookURL.String()
	if cfg.HookURL.Scheme != "http" {
		log.Error("hook", "original httpGet preStop skipped: this helper speaks plain http only (no TLS, to stay small)", "url", u)
		return
	}
	log.Info("hook", "calling the original httpGet preStop", "url", u, "timeout", timeout)
	start := time.Now()
	status, err := httpcall.Do(ctx, httpcall.Request{Method: "GET", URL: cfg.HookURL, Headers: cfg.HookHeaders, Timeout: timeout})
	switch {
	case err != nil:
		log.Error("hook", "original httpGet preStop failed", "url", u, "error", err, "elapsed", since(start))
	case status < 200 || status >= 400:
		log.Warn("hook", "original httpGet preStop returned an error status", "url", u, "status", status, "elapsed", since(start))
	default:
		log.Info("hook", "original httpGet preStop finished", "url", u, "status", status, "elapsed", since(start))
	}
}
