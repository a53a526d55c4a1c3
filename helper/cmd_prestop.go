package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ws-drain/ws-drain/helper/internal/drain"
	"github.com/ws-drain/ws-drain/helper/internal/jsonlog"
)

const prestopUsage = `Usage: ws-drain-helper prestop [flags] [-- original exec argv...]

Runs as a container's preStop hook: waits --delay for endpoint removal to
propagate, triggers the app's drain (--signal / --drain-url), waits up to
--budget for ESTABLISHED connections on --ports to close, then runs the
original preStop (exec argv after --, or --hook-url) and exits 0.
Never runs longer than delay + budget + 2s (+ hook-timeout + 1s for an http
hook, + hook-timeout + 2s for an exec hook): the "bound" in its start line. A
watchdog ends it at that bound with exit code 124.
Logs JSON lines to the container's stdout (/proc/1/fd/1), else stderr.

Flags (every value is --flag=value):
  --container=NAME            container name, for log lines
  --role=app                  app: trigger the drain; proxy: only wait for the app's
                              connections on --ports to close (never signals or calls)
  --delay=20s                 D: wait before draining (endpoint propagation)
  --budget=300s               S: longest wait for connections to close; 0s = don't watch
  --ports=8080,8443           local TCP ports whose ESTABLISHED connections are counted
                              (empty: nothing to watch, only the delay and the hook run)
  --signal=SIGUSR1            sent to the process owning the listening socket when draining starts
                              (SIGQUIT, SIGUSR2, SIGTERM, SIGHUP, SIGINT, SIGUSR1)
  --drain-url=URL             loopback-only HTTP call that starts the app's drain
  --drain-method=POST         method for --drain-url (default GET)
  --hook-url=URL              the pod's original httpGet preStop, run after the drain
                              (http only; an https hook is skipped with an error line)
  --hook-header='Name: value' repeatable, headers of the original httpGet hook
  --hook-timeout=10s          bound for the original hook (exec or http)
  --hook-at=after             after: the original hook runs once the drain is over;
                              drain: it IS the drain trigger, started after --delay
                              while connections are watched, then waited for up to
                              --hook-timeout
  --check                     parse the command line only: exit 0 when every flag is
                              usable, 2 naming each one that is not

An unusable --drain-url, --drain-method, --hook-url or --hook-header is logged
and left out; the delay, the signal and the connection watch still run.

Durations: Go style (90s, 5m, 1h30m, 1.5m) or bare seconds; at most 24h.
`

// maxDuration keeps D + S + hook within what time.Duration and a sane
// terminationGracePeriodSeconds can hold.
const maxDuration = 24 * time.Hour

// drainSignals are the signals the webhook accepts for ws-drain/drain-signal.
var drainSignals = map[string]syscall.Signal{
	"SIGUSR1": syscall.SIGUSR1,
	"SIGUSR2": syscall.SIGUSR2,
	"SIGQUIT": syscall.SIGQUIT,
	"SIGTERM": syscall.SIGTERM,
	"SIGHUP":  syscall.SIGHUP,
	"SIGINT":  syscall.SIGINT,
}

// parseDuration accepts Go durations and bare integer seconds, like the
// ws-drain/ annotations, and rejects negatives and absurd values.
func parseDuration(s string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(maxDuration/time.Second) {
			return 0, fmt.Errorf("duration %q out of range (0 to %s)", s, maxDuration)
		}
		d = time.Duration(n) * time.Second
	} else {
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q (want e.g. 20s, 5m, 1h30m or bare seconds)", s)
		}
	}
	if d < 0 || d > maxDuration {
		return 0, fmt.Errorf("duration %q out of range (0 to %s)", s, maxDuration)
	}
	return d, nil
}

type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}
func (f durationFlag) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

type portsFlag struct{ ports *[]uint16 }

func (f portsFlag) String() string { return "" }
func (f portsFlag) Set(s string) error {
	seen := map[uint16]bool{}
	var out []uint16
	// "--ports=" is what the webhook writes for a container without TCP
	// ports (sleep mode, or an exec hook to keep): no ports, not an error.
	if strings.TrimSpace(s) == "" {
		*f.ports = nil
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		n, err := strconv.ParseUint(part, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("invalid port %q in %q (want comma-separated numbers 1-65535)", part, s)
		}
		if !seen[uint16(n)] {
			seen[uint16(n)] = true
			out = append(out, uint16(n))
		}
	}
	*f.ports = out
	return nil
}

type headersFlag struct{ h *[]drain.Header }

func (f headersFlag) String() string { return "" }
func (f headersFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
		return fmt.Errorf("invalid header %q (want 'Name: value')", s)
	}
	*f.h = append(*f.h, drain.Header{Name: name, Value: strings.TrimSpace(value)})
	return nil
}

// urlFlag parses an http(s) URL. httpsOK admits https:// at parse time; it is
// true for --hook-url only, where the pod's own httpGet hook may use HTTPS:
// the drain still runs and the hook is reported as skipped (crypto/tls would
// double the binary). --drain-url is always http://127.0.0.1 from the webhook.
type urlFlag struct {
	u       **url.URL
	httpsOK bool
}

func (f urlFlag) String() string { return "" }
func (f urlFlag) Set(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("invalid URL %q (want http://HOST:PORT/PATH)", s)
	}
	if u.Scheme != "http" && !(f.httpsOK && u.Scheme == "https") {
		return fmt.Errorf("unsupported URL scheme in %q: only http:// is supported", s)
	}
	*f.u = u
	return nil
}

// softFlag wraps the flags of the drain call and of the original hook: a value
// the helper cannot use becomes a problem to log (and to fail --check on),
// never a reason to skip the delay and the connection watch. The webhook
// never writes such a value (test/core/helper-grammar.test.ts runs --check on
// what it injects); a hand-written or older pod spec still drains.
type softFlag struct {
	flag.Value
	name     string
	problems *[]string
}

func (f softFlag) Set(s string) error {
	if err := f.Value.Set(s); err != nil {
		*f.problems = append(*f.problems, fmt.Sprintf("--%s ignored: %v", f.name, err))
	}
	return nil
}

// parsePrestop turns argv into a Config. It never exits; errors are for exit
// 2. problems are flags it ignored (see softFlag); check is --check.
func parsePrestop(args []string) (cfg drain.Config, problems []string, check bool, err error) {
	cfg, problems, check, err = parsePrestopFlags(args)
	if err != nil {
		return cfg, problems, check, err
	}
	if cfg.DrainMethod = strings.ToUpper(cfg.DrainMethod); !validMethod(cfg.DrainMethod) {
		problems = append(problems, fmt.Sprintf("--drain-method %q ignored (want GET, POST, PUT, DELETE, PATCH or HEAD): no drain-url call", cfg.DrainMethod))
		cfg.DrainURL, cfg.DrainMethod = nil, "GET"
	}
	hookProblem := false
	for _, p := range problems {
		hookProblem = hookProblem || strings.HasPrefix(p, "--hook-")
	}
	switch {
	case hookProblem && cfg.HookURL != nil:
		// Half a hook (a header missing) could do something else than the pod asked for.
		problems = append(problems, "the original httpGet hook is not run: one of its flags is unusable")
		cfg.HookURL, cfg.HookHeaders = nil, nil
	case len(cfg.HookHeaders) > 0 && cfg.HookURL == nil:
		problems = append(problems, "--hook-header ignored: it needs --hook-url")
		cfg.HookHeaders = nil
	}
	return cfg, problems, check, nil
}

func parsePrestopFlags(args []string) (cfg drain.Config, problems []string, check bool, err error) {
	cfg = drain.Config{
		Delay:       20 * time.Second,
		Budget:      300 * time.Second,
		HookTimeout: 10 * time.Second,
		DrainMethod: "GET",
	}
	fs := flag.NewFlagSet("prestop", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed once, by the caller
	fs.Usage = func() {}
	var signalName, role, hookAt string
	fs.StringVar(&cfg.Container, "container", "", "")
	fs.StringVar(&role, "role", "app", "")
	fs.StringVar(&hookAt, "hook-at", "after", "")
	fs.Var(durationFlag{&cfg.Delay}, "delay", "")
	fs.Var(durationFlag{&cfg.Budget}, "budget", "")
	fs.Var(portsFlag{&cfg.Ports}, "ports", "")
	fs.StringVar(&signalName, "signal", "", "")
	fs.Var(softFlag{urlFlag{u: &cfg.DrainURL}, "drain-url", &problems}, "drain-url", "")
	fs.StringVar(&cfg.DrainMethod, "drain-method", "GET", "")
	fs.Var(softFlag{urlFlag{u: &cfg.HookURL, httpsOK: true}, "hook-url", &problems}, "hook-url", "")
	fs.Var(softFlag{headersFlag{&cfg.HookHeaders}, "hook-header", &problems}, "hook-header", "")
	fs.Var(durationFlag{&cfg.HookTimeout}, "hook-timeout", "")
	fs.BoolVar(&check, "check", false, "")
	if err = fs.Parse(args); err != nil {
		return cfg, problems, check, err
	}
	// Positional arguments are only allowed after "--" (the original argv).
	rest := fs.Args()
	consumed := len(args) - len(rest)
	if len(rest) > 0 && (consumed == 0 || args[consumed-1] != "--") {
		return cfg, problems, check, fmt.Errorf("unexpected argument %q (the original preStop argv goes after --)", rest[0])
	}
	cfg.HookArgv = rest
	if signalName != "" {
		sig, ok := drainSignals[signalName]
		if !ok {
			return cfg, problems, check, fmt.Errorf("invalid --signal %q (want one of SIGQUIT, SIGUSR2, SIGTERM, SIGHUP, SIGINT, SIGUSR1)", signalName)
		}
		cfg.Signal, cfg.SignalName = sig, signalName
	}
	switch role {
	case "app":
	case "proxy":
		cfg.Proxy = true
		if cfg.Signal != 0 || cfg.DrainURL != nil {
			return cfg, problems, check, errors.New("--role=proxy takes no --signal or --drain-url: a proxy is never triggered")
		}
	default:
		return cfg, problems, check, fmt.Errorf("invalid --role %q (want app or proxy)", role)
	}
	switch hookAt {
	case "after":
	case "drain":
		if cfg.Proxy {
			return cfg, problems, check, errors.New("--role=proxy takes no --hook-at=drain: a proxy is never triggered")
		}
		cfg.HookAsTrigger = true
	default:
		return cfg, problems, check, fmt.Errorf("invalid --hook-at %q (want after or drain)", hookAt)
	}
	return cfg, problems, check, nil
}

// watchdogLogWait is how long the watchdog waits for its log line before
// exiting anyway (the log pipe may be what is stuck).
const watchdogLogWait = 100 * time.Millisecond

// armWatchdog exits with exitWatchdog once bound is reached: it fires
// watchdogLogWait early so the exit, log line or not, is within the bound.
// Non-zero, so kubelet records the hook as failed instead of a clean drain.
func armWatchdog(bound time.Duration, log *jsonlog.Logger, exit func(int)) *time.Timer {
	return time.AfterFunc(bound-watchdogLogWait, func() {
		done := make(chan struct{})
		go func() {
			log.Error("exit", "hard time bound reached; exiting", "bound", bound, "exit_code", exitWatchdog)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(watchdogLogWait):
		}
		exit(exitWatchdog)
	})
}

func validMethod(m string) bool {
	switch m {
	case "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD":
		return true
	}
	return false
}

func runPrestop(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a == "--" {
			break
		}
		if isHelp(a) {
			fmt.Fprint(stdout, prestopUsage)
			return exitOK
		}
	}
	cfg, problems, check, err := parsePrestop(args)
	if err != nil {
		fmt.Fprintf(stderr, "ws-drain-helper prestop: %v\n\n%s", err, prestopUsage)
		return exitUsage
	}
	if check {
		// Parse only: what the webhook injects must pass with no problem at all.
		for _, p := range problems {
			fmt.Fprintf(stderr, "ws-drain-helper prestop --check: %s\n", p)
		}
		if len(problems) > 0 {
			return exitUsage
		}
		return exitOK
	}
	cfg.ProcRoot = procRoot()

	w, target, closeLog := jsonlog.OpenTarget(os.Getenv(envLog), cfg.ProcRoot)
	defer closeLog()
	log := jsonlog.New(w, cfg.Container)

	// Last line of defence: whatever blocks (a wedged /proc read, a log pipe),
	// the helper is gone by its hard bound.
	bound := drain.HardBound(cfg)
	watchdog := armWatchdog(bound, log, os.Exit)
	defer watchdog.Stop()

	start := time.Now()
	drainURL, hookURL := "", ""
	if cfg.DrainURL != nil {
		drainURL = cfg.DrainURL.String()
	}
	if cfg.HookURL != nil {
		hookURL = cfg.HookURL.String()
	}
	log.Info("start", "preStop drain started",
		"version", version, "pid", os.Getpid(), "log_target", target,
		"delay", cfg.Delay, "budget", cfg.Budget, "ports", cfg.Ports,
		"role", role(cfg), "signal", cfg.SignalName, "drain_url", drainURL, "drain_method", cfg.DrainMethod,
		"hook_argv", cfg.HookArgv, "hook_url", hookURL, "hook_timeout", cfg.HookTimeout, "hook_as_trigger", cfg.HookAsTrigger,
		"bound", bound)
	for _, p := range problems {
		log.Error("start", "flag ignored; the drain goes on without it", "problem", p)
	}

	res := drain.Run(ctx, cfg, log)
	if res.Interrupted {
		log.Warn("exit", "helper received SIGTERM/SIGINT; stopping early", "elapsed", time.Since(start).Round(time.Millisecond))
		return exitInterrupted
	}
	log.Info("exit", "preStop drain finished", "drained", res.Drained, "left", res.Left, "hook_exit_code", res.HookExit, "elapsed", time.Since(start).Round(time.Millisecond))
	return exitOK
}

func role(cfg drain.Config) string {
	if cfg.Proxy {
		return "proxy"
	}
	return "app"
}
