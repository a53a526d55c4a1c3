package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real static binary (built in TestMain) as a separate
// process, against real sockets and real processes. hangGuard only turns a
// hang into a failure; no test asserts how long something took.
const hangGuard = 60 * time.Second

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type helperRun struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	done           chan struct{}
	code           int
}

// startHelper runs the helper binary with log lines on stderr (there is no
// container PID 1 whose stdout we could borrow), unless env overrides it.
func startHelper(t *testing.T, env []string, args ...string) *helperRun {
	t.Helper()
	cmd := exec.Command(helperBin, args...)
	cmd.Env = append(append(os.Environ(), "WS_DRAIN_LOG=stderr"), env...)
	return startCmd(t, cmd)
}

// startCmd runs a prepared command (another uid, a mount namespace) with the
// same output capture, exit-code and cleanup handling as startHelper.
func startCmd(t *testing.T, cmd *exec.Cmd) *helperRun {
	t.Helper()
	r := &helperRun{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = r.stdout, r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = r.cmd.Wait()
		r.code = r.cmd.ProcessState.ExitCode()
		if ws, ok := r.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		}
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *helperRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(hangGuard):
		t.Fatalf("helper did not exit; stderr:\n%s", r.stderr.String())
		return -1
	}
}

func runHelper(t *testing.T, env []string, args ...string) (int, *helperRun) {
	t.Helper()
	r := startHelper(t, env, args...)
	return r.wait(t), r
}

func runCmd(t *testing.T, cmd *exec.Cmd) (int, *helperRun) {
	t.Helper()
	r := startCmd(t, cmd)
	return r.wait(t), r
}

// logLines parses the JSON log lines out of an output stream; other lines
// (a hook's own output) are skipped.
func logLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad log line %q: %v", sc.Text(), err)
		}
		for _, k := range []string{"ts", "level", "component", "phase", "msg"} {
			if _, ok := m[k]; !ok {
				t.Errorf("log line without %q: %s", k, sc.Text())
			}
		}
		if m["component"] != "ws-drain-helper" {
			t.Errorf("component = %v", m["component"])
		}
		lines = append(lines, m)
	}
	return lines
}

func find(lines []map[string]any, phase, substr string) int {
	for i, m := range lines {
		if m["phase"] == phase && strings.Contains(m["msg"].(string), substr) {
			return i
		}
	}
	return -1
}

// waitFor polls out until it contains substr.
func waitFor(t *testing.T, out *lockedBuffer, substr string) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !strings.Contains(out.String(), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %q in:\n%s", substr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holder is a listener in the test process that keeps accepted connections.
type holder struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newHolder(t *testing.T, clients int) *holder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &holder{ln: ln}
	t.Cleanup(func() { ln.Close(); h.closeN(1 << 20) })
	for i := 0; i < clients; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		h.conns = append(h.conns, s)
	}
	return h
}

func (h *holder) port() string { return strconv.Itoa(h.ln.Addr().(*net.TCPAddr).Port) }

// closeN closes up to n held connections and returns how many are left.
func (h *holder) closeN(n int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ; n > 0 && len(h.conns) > 0; n-- {
		h.conns[0].Close()
		h.conns = h.conns[1:]
	}
	return len(h.conns)
}

func TestPrestopDrainsAsConnectionsClose(t *testing.T) {
	h := newHolder(t, 4)
	r := startHelper(t, nil, "prestop", "--container=web", "--delay=0s", "--budget=300s", "--ports="+h.port())
	waitFor(t, r.stderr, `"established":4`)
	var lastClose time.Time
	for h.closeN(1) > 0 {
		time.Sleep(150 * time.Millisecond)
	}
	lastClose = time.Now()
	code := r.wait(t)
	exited := time.Now()
	lines := logLines(t, r.stderr.String())
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, r.stderr.String())
	}
	if exited.Before(lastClose) {
		t.Error("helper exited before the last connection closed")
	}
	for _, phase := range []string{"start", "delay", "trigger", "watch", "hook", "exit"} {
		if find(lines, phase, "") < 0 {
			t.Errorf("no %q line", phase)
		}
	}
	if lines[0]["container"] != "web" || lines[0]["version"] != testVersion {
		t.Errorf("start line: %v", lines[0])
	}
	if i := find(lines, "exit", "preStop drain finished"); i < 0 || lines[i]["drained"] != true || lines[i]["left"] != float64(0) {
		t.Errorf("exit line; stderr:\n%s", r.stderr.String())
	}
}

func TestPrestopBudgetExpiresWithConnectionsLeft(t *testing.T) {
	h := newHolder(t, 2)
	code, r := runHelper(t, nil, "prestop", "--container=web", "--delay=0s", "--budget=1s", "--ports="+h.port()+",1")
	lines := logLines(t, r.stderr.String())
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if i := find(lines, "watch", "drain budget elapsed"); i < 0 || lines[i]["left"] != float64(2) {
		t.Errorf("want left=2; stderr:\n%s", r.stderr.String())
	}
	if i := find(lines, "exit", "finished"); i < 0 || lines[i]["drained"] != false {
		t.Errorf("exit line; stderr:\n%s", r.stderr.String())
	}
}

// TestPrestopSignalReachesListenerOwner runs the app as a separate process
// (this test binary in child mode) that drains on SIGUSR1: the helper must
// find it through /proc, signal it, see its connections close, then run the
// original exec hook.
func TestPrestopSignalReachesListenerOwner(t *testing.T) {
	dir := t.TempDir()
	sigFile := filepath.Join(dir, "signal")
	hookFile := filepath.Join(dir, "hook")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	app := exec.Command(self)
	app.Env = append(os.Environ(), childEnv+"=listen:"+sigFile)
	out, err := app.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Process.Kill(); _ = app.Wait() })
	port, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	port = strings.TrimSpace(port)
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}

	code, r := runHelper(t, nil, "prestop", "--container=app", "--delay=0s", "--budget=120s",
		"--ports="+port, "--signal=SIGUSR1", "--", "sh", "-c", `echo ran > "$0"; exit 7`, hookFile)
	lines := logLines(t, r.stderr.String())
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, r.stderr.String())
	}
	got, err := os.ReadFile(sigFile)
	if err != nil || string(got) != "SIGUSR1 "+strconv.Itoa(app.Process.Pid) {
		t.Fatalf("app did not get SIGUSR1: %q %v; stderr:\n%s", got, err, r.stderr.String())
	}
	if i := find(lines, "trigger", "sent drain signal"); i < 0 || lines[i]["pid"] != float64(app.Process.Pid) {
		t.Errorf("trigger line should name pid %d; stderr:\n%s", app.Process.Pid, r.stderr.String())
	}
	drained, hook := find(lines, "watch", "all watched connections closed"), find(lines, "hook", "failed")
	if drained < 0 || hook < drained || lines[hook]["exit_code"] != float64(7) {
		t.Errorf("want drain, then hook with exit_code 7; stderr:\n%s", r.stderr.String())
	}
	if b, err := os.ReadFile(hookFile); err != nil || strings.TrimSpace(string(b)) != "ran" {
		t.Errorf("hook did not run: %q %v", b, err)
	}
}

func TestPrestopHTTPHookWithHeaders(t *testing.T) {
	got := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Clone(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	code, r := runHelper(t, nil, "prestop", "--delay=0s", "--budget=0s",
		"--hook-url="+srv.URL+"/shutdown?grace=1", "--hook-header=Authorization: Bearer t0k3n", "--hook-header=X-Empty:", "--hook-timeout=5s")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, r.stderr.String())
	}
	select {
	case req := <-got:
		if req.Method != "GET" || req.URL.RequestURI() != "/shutdown?grace=1" || req.Header.Get("Authorization") != "Bearer t0k3n" {
			t.Errorf("request: %s %s %v", req.Method, req.URL, req.Header)
		}
		if _, ok := req.Header["X-Empty"]; !ok {
			t.Errorf("empty header not sent: %v", req.Header)
		}
	default:
		t.Fatalf("hook not called; stderr:\n%s", r.stderr.String())
	}
	if i := find(logLines(t, r.stderr.String()), "hook", "httpGet preStop finished"); i < 0 {
		t.Errorf("stderr:\n%s", r.stderr.String())
	}
}

func TestPrestopDrainURLRules(t *testing.T) {
	// Non-loopback: refused and logged, the drain goes on, exit 0.
	code, r := runHelper(t, nil, "prestop", "--delay=0s", "--budget=0s", "--drain-url=http://10.11.12.13:8080/drain")
	if code != 0 || find(logLines(t, r.stderr.String()), "trigger", "drain-url refused") < 0 {
		t.Errorf("exit %d; stderr:\n%s", code, r.stderr.String())
	}
	// Loopback endpoint that is dead: logged, exit 0.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	code, r = runHelper(t, nil, "prestop", "--delay=0s", "--budget=0s", "--drain-url=http://"+dead+"/drain", "--drain-method=post")
	lines := logLines(t, r.stderr.String())
	if i := find(lines, "trigger", "drain-url call failed"); code != 0 || i < 0 || lines[i]["method"] != "POST" {
		t.Errorf("exit %d; stderr:\n%s", code, r.stderr.String())
	}
}

// Flags of the drain call and of the original hook that the helper cannot use
// are logged and left out: the drain itself still runs (exit 0), and --check
// names each of them (exit 2).
func TestPrestopUnusableHookAndDrainFlagsNeverSkipTheDrain(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--drain-url=ftp://127.0.0.1/x"}, "only http://"},
		{[]string{"--drain-url=https://127.0.0.1/x"}, "only http://"},
		{[]string{"--drain-url=:8080/drain"}, "invalid URL"},
		{[]string{"--drain-url=http://127.0.0.1:8080/drain%"}, "invalid URL"},
		{[]string{"--drain-url=http://127.0.0.1:8080/x", "--drain-method=FETCH"}, "--drain-method"},
		{[]string{"--hook-url=http://127.0.0.1/%zz"}, "--hook-url ignored"},
		{[]string{"--hook-url=http://[fe80::1%eth0]:80/"}, "--hook-url ignored"},
		{[]string{"--hook-url=http://127.0.0.1/x", "--hook-header=NoColon"}, "invalid header"},
		{[]string{"--hook-url=http://127.0.0.1/x", "--hook-header=X: a\r\nEvil: 1"}, "invalid header"},
		{[]string{"--hook-header=X: y"}, "--hook-header ignored: it needs --hook-url"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{"prestop", "--delay=0s", "--budget=0s", "--ports=80"}, tt.args...)
			code, r := runHelper(t, nil, args...)
			lines := logLines(t, r.stderr.String())
			if code != 0 || find(lines, "start", "flag ignored") < 0 || find(lines, "exit", "preStop drain finished") < 0 {
				t.Errorf("exit %d, want 0 with the flag logged and the drain finished; stderr:\n%s", code, r.stderr.String())
			}
			if !strings.Contains(r.stderr.String(), tt.want) {
				t.Errorf("log does not say %q:\n%s", tt.want, r.stderr.String())
			}
			check := append([]string{"prestop", "--check", "--ports=80"}, tt.args...)
			if code, r := runHelper(t, nil, check...); code != 2 || !strings.Contains(r.stderr.String(), tt.want) {
				t.Errorf("--check: exit %d, want 2 naming %q; stderr:\n%s", code, tt.want, r.stderr.String())
			}
		})
	}
	if code, r := runHelper(t, nil, "prestop", "--check", "--ports=80", "--drain-url=http://127.0.0.1:8080/drain%25", "--hook-url=http://[fe80::1%25eth0]:80/a%20b", "--hook-header=X: y", "--", "/bin/true"); code != 0 {
		t.Errorf("--check on usable flags: exit %d; stderr:\n%s", code, r.stderr.String())
	}
}

func TestPrestopBadFlagsExit2(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--nope=1"}, "flag provided but not defined"},
		{[]string{"--delay=abc", "--ports=80"}, "invalid duration"},
		{[]string{"--delay=-5s", "--ports=80"}, "out of range"},
		{[]string{"--budget=25h", "--ports=80"}, "out of range"},
		{[]string{"--ports=0"}, "invalid port"},
		{[]string{"--ports=80,http"}, "invalid port"},
		{[]string{"--ports=65536"}, "invalid port"},
		{[]string{"--ports=80", "--signal=SIGKILL"}, "invalid --signal"},
		{[]string{"--ports=80", "--signal=usr1"}, "invalid --signal"},
		{[]string{"--ports=80", "stray"}, "unexpected argument"},
		{[]string{"--ports=80", "--delay"}, "flag needs an argument"},
		{[]string{"--ports=80", "--role=sidecar"}, "invalid --role"},
		{[]string{"--ports=80", "--hook-at=before"}, "invalid --hook-at"},
		{[]string{"--ports=80", "--role=proxy", "--hook-at=drain"}, "a proxy is never triggered"},
		{[]string{"--ports=80", "--role=proxy", "--signal=SIGQUIT"}, "a proxy is never triggered"},
		{[]string{"--ports=80", "--role=proxy", "--drain-url=http://127.0.0.1:80/d"}, "a proxy is never triggered"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, r := runHelper(t, nil, append([]string{"prestop"}, tt.args...)...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(r.stderr.String(), tt.want) || !strings.Contains(r.stderr.String(), "Usage: ws-drain-helper prestop") {
				t.Errorf("stderr does not explain (%q):\n%s", tt.want, r.stderr.String())
			}
		})
	}
}

func TestPrestopSIGTERMExitsPromptly(t *testing.T) {
	r := startHelper(t, nil, "prestop", "--delay=1h", "--budget=1h", "--ports=80", "--", "sh", "-c", "echo hook-should-not-run")
	waitFor(t, r.stderr, `"phase":"delay"`)
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(t); code != exitInterrupted {
		t.Errorf("exit %d, want %d", code, exitInterrupted)
	}
	if strings.Contains(r.stdout.String(), "hook-should-not-run") {
		t.Error("hook ran after SIGTERM")
	}
	if find(logLines(t, r.stderr.String()), "exit", "stopping early") < 0 {
		t.Errorf("stderr:\n%s", r.stderr.String())
	}
}

// By default the lines go to PID 1's stdout, which is what kubectl logs shows.
func TestPrestopLogsToPID1Stdout(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "1", "fd"), 0o755); err != nil {
		t.Fatal(err)
	}
	appStdout := filepath.Join(root, "app-stdout")
	if err := os.WriteFile(appStdout, []byte("app line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(appStdout, filepath.Join(root, "1", "fd", "1")); err != nil {
		t.Fatal(err)
	}
	code, r := runHelper(t, []string{"WS_DRAIN_LOG=", "WS_DRAIN_PROC_ROOT=" + root}, "prestop", "--container=web", "--delay=0s", "--budget=0s")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, r.stderr.String())
	}
	b, _ := os.ReadFile(appStdout)
	if !strings.HasPrefix(string(b), "app line\n") {
		t.Errorf("app output was overwritten: %q", b)
	}
	lines := logLines(t, strings.TrimPrefix(string(b), "app line\n"))
	if len(lines) < 3 || lines[0]["log_target"] != filepath.Join(root, "1", "fd", "1") || find(lines, "exit", "finished") < 0 {
		t.Errorf("container stdout:\n%s", b)
	}
	if strings.Contains(r.stderr.String(), "{") {
		t.Errorf("lines also went to stderr:\n%s", r.stderr.String())
	}
}

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ { // the second run replaces the first (init container restart)
		code, r := runHelper(t, nil, "install", dir)
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, r.stderr.String())
		}
		lines := logLines(t, r.stdout.String())
		if len(lines) != 1 || lines[0]["phase"] != "install" || lines[0]["path"] != filepath.Join(dir, "ws-drain-helper") {
			t.Errorf("stdout:\n%s", r.stdout.String())
		}
	}
	dest := filepath.Join(dir, "ws-drain-helper")
	fi, err := os.Stat(dest)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o555 {
		t.Errorf("mode %v, want 0555", fi.Mode().Perm())
	}
	want, _ := os.ReadFile(helperBin)
	got, _ := os.ReadFile(dest)
	if !bytes.Equal(want, got) {
		t.Error("installed file differs from the helper binary")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
	out, err := exec.Command(dest, "version").Output()
	if err != nil || strings.TrimSpace(string(out)) != testVersion {
		t.Errorf("installed binary version: %q %v", out, err)
	}

	code, r := runHelper(t, nil, "install", filepath.Join(dir, "missing", "dir"))
	if code != 1 || find(logLines(t, r.stdout.String()), "install", "install failed") < 0 {
		t.Errorf("missing dir: exit %d stdout:\n%s", code, r.stdout.String())
	}
}

func TestSleepVersionHelpAndUsage(t *testing.T) {
	if code, r := runHelper(t, nil, "sleep", "0.1s"); code != 0 {
		t.Errorf("sleep 0.1s: exit %d %s", code, r.stderr.String())
	}
	if code, _ := runHelper(t, nil, "sleep", "1"); code != 0 {
		t.Errorf("sleep 1 (bare seconds): exit %d", code)
	}
	for _, args := range [][]string{{"sleep"}, {"sleep", "soon"}, {"sleep", "1s", "2s"}, {"sleep", "-1s"}} {
		if code, _ := runHelper(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	r := startHelper(t, nil, "sleep", "1h")
	time.Sleep(200 * time.Millisecond) // let it install its signal handler; only affects the exit code
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	if code := r.wait(t); code != exitInterrupted && code != 128+int(syscall.SIGTERM) {
		t.Errorf("sleep after SIGTERM: exit %d", code)
	}

	code, r := runHelper(t, nil, "version")
	if code != 0 || strings.TrimSpace(r.stdout.String()) != testVersion {
		t.Errorf("version: %d %q", code, r.stdout.String())
	}
	for _, args := range [][]string{{"--help"}, {"prestop", "--help"}, {"prestop", "--ports=80", "-h"}, {"install", "--help"}, {"sleep", "--help"}, {"version", "--help"}} {
		code, r := runHelper(t, nil, args...)
		if code != 0 || !strings.Contains(r.stdout.String(), "Usage") {
			t.Errorf("%v: exit %d stdout %q", args, code, r.stdout.String())
		}
	}
	for _, args := range [][]string{{}, {"bogus"}, {"version", "extra"}, {"install"}} {
		if code, _ := runHelper(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// The webhook writes "--ports=" for a container without TCP ports (sleep
// mode with a kept exec hook): the delay and the hook still run.
func TestPrestopEmptyPortsStillRunsDelayAndHook(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "hook")
	for _, budget := range []string{"--budget=0s", "--budget=300s"} {
		os.Remove(marker)
		code, r := runHelper(t, nil, "prestop", "--container=web", "--delay=0s", budget, "--ports=", "--hook-timeout=5s", "--", "touch", marker)
		if code != 0 {
			t.Fatalf("%s: exit %d; stderr:\n%s", budget, code, r.stderr.String())
		}
		if _, err := os.Stat(marker); err != nil {
			t.Errorf("%s: hook did not run; stderr:\n%s", budget, r.stderr.String())
		}
	}
}

// An HTTPS httpGet hook cannot be called without TLS: the drain still runs,
// and the skipped hook is an error line, not a silent success.
func TestPrestopHTTPSHookIsReportedNotFatal(t *testing.T) {
	code, r := runHelper(t, nil, "prestop", "--delay=0s", "--budget=0s", "--ports=8443", "--hook-url=https://127.0.0.1:8443/stop")
	lines := logLines(t, r.stderr.String())
	if i := find(lines, "hook", "skipped"); code != 0 || i < 0 || lines[i]["level"] != "error" {
		t.Errorf("exit %d; stderr:\n%s", code, r.stderr.String())
	}
}
