package drain

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ws-drain/ws-drain/helper/internal/jsonlog"
	"github.com/ws-drain/ws-drain/helper/internal/procnet"
)

// hangGuard is only there to turn a hang into a failure; no test asserts a
// duration.
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

func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// find returns the index of the first line with that phase whose msg contains substr.
func find(lines []map[string]any, phase, substr string) int {
	for i, m := range lines {
		if m["phase"] == phase && strings.Contains(m["msg"].(string), substr) {
			return i
		}
	}
	return -1
}

func dump(lines []map[string]any) string {
	var b strings.Builder
	for _, m := range lines {
		j, _ := json.Marshal(m)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// startRun runs the timeline in the background; wait fails the test
// (instead of hanging) if it does not return.
func startRun(t *testing.T, ctx context.Context, cfg Config) (*lockedBuffer, func() (Result, []map[string]any)) {
	t.Helper()
	buf := &lockedBuffer{}
	log := jsonlog.New(buf, "app")
	done := make(chan Result, 1)
	go func() { done <- Run(ctx, cfg, log) }()
	return buf, func() (Result, []map[string]any) {
		t.Helper()
		select {
		case r := <-done:
			return r, buf.lines(t)
		case <-time.After(hangGuard):
			t.Fatalf("Run did not return; log so far:\n%s", dump(buf.lines(t)))
			return Result{}, nil
		}
	}
}

func runBounded(t *testing.T, ctx context.Context, cfg Config) (Result, []map[string]any) {
	t.Helper()
	_, wait := startRun(t, ctx, cfg)
	return wait()
}

func (l *lockedBuffer) waitFor(t *testing.T, substr string) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		l.mu.Lock()
		found := strings.Contains(l.b.String(), substr)
		l.mu.Unlock()
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never logged %q", substr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// server is a real listener with accepted connections held open.
type server struct {
	ln    net.Listener
	port  uint16
	mu    sync.Mutex
	conns []net.Conn
}

func listen(t *testing.T, network, addr string) *server {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, port: uint16(ln.Addr().(*net.TCPAddr).Port)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { s.closeAll(); ln.Close() })
	return s
}

// dial opens n client connections to addr and waits until the server holds them.
func (s *server) dial(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	var clients []net.Conn
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		t.Cleanup(func() { c.Close() })
	}
	deadline := time.Now().Add(hangGuard)
	for s.held() < len(clients) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return clients
}

func (s *server) held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func TestCountEstablishedLive(t *testing.T) {
	v4 := listen(t, "tcp4", "127.0.0.1:0")
	v4.dial(t, v4.ln.Addr().String(), 4)
	// A dual-stack listener sees its IPv4 clients as ::ffff:127.0.0.1 in tcp6.
	ds := listen(t, "tcp", "[::]:0")
	port := ds.port
	ds.dial(t, net.JoinHostPort("127.0.0.1", itoa(port)), 2)
	ds.dial(t, net.JoinHostPort("::1", itoa(port)), 1)

	n, ok, errs := countEstablished(context.Background(), newTableReader("/proc"), map[uint16]bool{v4.port: true})
	if !ok || n != 4 {
		t.Errorf("IPv4 port: n=%d ok=%v errs=%v, want 4", n, ok, errs)
	}
	n, ok, _ = countEstablished(context.Background(), newTableReader("/proc"), map[uint16]bool{port: true})
	if !ok || n != 3 {
		t.Errorf("dual-stack port: n=%d ok=%v, want 3 (2 IPv4-mapped + 1 IPv6)", n, ok)
	}
	n, _, _ = countEstablished(context.Background(), newTableReader("/proc"), map[uint16]bool{v4.port: true, port: true})
	if n != 7 {
		t.Errorf("both ports: n=%d, want 7", n)
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

func TestRunEndsWhenConnectionsClose(t *testing.T) {
	s := listen(t, "tcp4", "127.0.0.1:0")
	s.dial(t, s.ln.Addr().String(), 5)
	buf, wait := startRun(t, context.Background(), Config{
		Container: "app", Budget: 5 * time.Minute, Ports: []uint16{s.port},
		PollInterval: 50 * time.Millisecond,
	})
	buf.waitFor(t, `"established":5`)
	for {
		s.mu.Lock()
		s.conns[0].Close()
		s.conns = s.conns[1:]
		remaining := len(s.conns)
		s.mu.Unlock()
		if remaining == 0 {
			break
		}
		time.Sleep(150 * time.Millisecond)
	}
	lastClose := time.Now()
	res, lines := wait()
	if !res.Drained || res.Left != 0 {
		t.Fatalf("result %+v, want drained; log:\n%s", res, dump(lines))
	}
	i := find(lines, "watch", "all watched connections closed")
	if i < 0 {
		t.Fatalf("no drained line; log:\n%s", dump(lines))
	}
	if ts, _ := time.Parse(time.RFC3339Nano, lines[i]["ts"].(string)); ts.Before(lastClose) {
		t.Errorf("reported drained at %s, before the last connection closed at %s", ts, lastClose)
	}
}

func TestRunBudgetExpiresWithConnectionsLeft(t *testing.T) {
	s := listen(t, "tcp4", "127.0.0.1:0")
	s.dial(t, s.ln.Addr().String(), 3)
	res, lines := runBounded(t, context.Background(), Config{
		Budget: 700 * time.Millisecond, Ports: []uint16{s.port}, PollInterval: 50 * time.Millisecond,
	})
	if res.Drained || res.Left != 3 {
		t.Fatalf("result %+v, want 3 left; log:\n%s", res, dump(lines))
	}
	i := find(lines, "watch", "drain budget elapsed")
	if i < 0 || lines[i]["left"] != float64(3) || lines[i]["level"] != "warn" {
		t.Errorf("want a warn line with left=3; log:\n%s", dump(lines))
	}
	if find(lines, "hook", "no original preStop") < 0 {
		t.Errorf("hook phase missing; log:\n%s", dump(lines))
	}
}

// startSleeper starts a real process to receive a signal in place of PID 1.
func startSleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}

func signalledBy(t *testing.T, cmd *exec.Cmd) syscall.Signal {
	t.Helper()
	done := make(chan *os.ProcessState, 1)
	go func() { st, _ := cmd.Process.Wait(); done <- st }()
	select {
	case st := <-done:
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return ws.Signal()
		}
		return 0
	case <-time.After(hangGuard):
		t.Fatal("process never got a signal")
		return 0
	}
}

func TestNoSignalWhenNoOwnerVisible(t *testing.T) {
	// A /proc without any listener for the port: the helper cannot see the
	// owner, and signals nobody (PID 1 may be pilot-agent, a shell or an init).
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, lines := runBounded(t, context.Background(), Config{
		Signal: syscall.SIGUSR1, SignalName: "SIGUSR1", Ports: []uint16{8080}, ProcRoot: root,
	})
	if find(lines, "trigger", "sent drain signal") >= 0 {
		t.Errorf("a signal was sent without a visible owner; log:\n%s", dump(lines))
	}
	if i := find(lines, "trigger", "no process signalled"); i < 0 || !strings.Contains(lines[i]["reason"].(string), "no listening socket") {
		t.Errorf("want a trigger line saying why nobody was signalled; log:\n%s", dump(lines))
	}
}

// fixtureOwner makes a fixture /proc whose tcp table has a LISTEN socket on
// 8080 held by pid, with mount namespaces for self and pid.
func fixtureOwner(t *testing.T, pid int, selfNS, pidNS string) string {
	t.Helper()
	root := t.TempDir()
	pidDir := filepath.Join(root, strconv.Itoa(pid))
	for _, d := range []string{filepath.Join(pidDir, "fd"), filepath.Join(pidDir, "ns"), filepath.Join(root, "self", "ns"), filepath.Join(root, "net")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(pidDir, "fd", "3"):         "socket:[777002]",
		filepath.Join(pidDir, "ns", "mnt"):       pidNS,
		filepath.Join(root, "self", "ns", "mnt"): selfNS,
	}
	for at, to := range links {
		if err := os.Symlink(to, at); err != nil {
			t.Fatal(err)
		}
	}
	table := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777002 1 0000000000000000 100 0 0 10 0\n"
	if err := os.WriteFile(filepath.Join(root, "net", "tcp"), []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestSignalOnlyToOwnerInThisContainer(t *testing.T) {
	// shareProcessNamespace: the listener's owner is visible but lives in
	// another container (another mount namespace): it is not signalled.
	other := startSleeper(t)
	_, lines := runBounded(t, context.Background(), Config{
		Signal: syscall.SIGUSR1, SignalName: "SIGUSR1", Ports: []uint16{8080},
		ProcRoot: fixtureOwner(t, other.Process.Pid, "mnt:[4026531841]", "mnt:[4026531999]"),
	})
	if i := find(lines, "trigger", "no process signalled"); i < 0 || !strings.Contains(lines[i]["reason"].(string), "another container") {
		t.Errorf("log:\n%s", dump(lines))
	}
	if err := other.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the other container's process is gone: %v", err)
	}

	same := startSleeper(t)
	_, lines = runBounded(t, context.Background(), Config{
		Signal: syscall.SIGUSR2, SignalName: "SIGUSR2", Ports: []uint16{8080},
		ProcRoot: fixtureOwner(t, same.Process.Pid, "mnt:[4026531841]", "mnt:[4026531841]"),
	})
	if got := signalledBy(t, same); got != syscall.SIGUSR2 {
		t.Errorf("owner in this container got %v, want SIGUSR2; log:\n%s", got, dump(lines))
	}
}

func TestProxyIsNeverTriggered(t *testing.T) {
	owner := startSleeper(t)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/drain")
	_, lines := runBounded(t, context.Background(), Config{
		Proxy: true, Signal: syscall.SIGUSR1, SignalName: "SIGUSR1", DrainURL: u, Ports: []uint16{8080},
		ProcRoot: fixtureOwner(t, owner.Process.Pid, "mnt:[1]", "mnt:[1]"),
	})
	if calls.Load() != 0 || find(lines, "trigger", "sent drain signal") >= 0 || find(lines, "trigger", "proxy container") < 0 {
		t.Errorf("calls %d; log:\n%s", calls.Load(), dump(lines))
	}
	if err := owner.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the listener's owner is gone: %v", err)
	}
}

func TestSignalReachesOwnerFoundInProc(t *testing.T) {
	// A fixture /proc: the table has a LISTEN socket whose inode is held by a
	// real process (a sleeper, standing in for the app).
	sleeper := startSleeper(t)
	root := t.TempDir()
	pidDir := filepath.Join(root, strconv.Itoa(sleeper.Process.Pid), "fd")
	if err := os.MkdirAll(pidDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("socket:[777001]", filepath.Join(pidDir, "3")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	table := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777001 1 0000000000000000 100 0 0 10 0\n"
	if err := os.WriteFile(filepath.Join(root, "net", "tcp"), []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	_, lines := runBounded(t, context.Background(), Config{
		Signal: syscall.SIGHUP, SignalName: "SIGHUP", Ports: []uint16{8080}, ProcRoot: root,
	})
	if got := signalledBy(t, sleeper); got != syscall.SIGHUP {
		t.Errorf("owner got %v, want SIGHUP; log:\n%s", got, dump(lines))
	}
	if i := find(lines, "trigger", "sent drain signal"); i < 0 || !strings.Contains(lines[i]["reason"].(string), "owns the listening socket on port 8080") {
		t.Errorf("log:\n%s", dump(lines))
	}
}

func TestBadProcContentNeverHangsOrCrashes(t *testing.T) {
	root := t.TempDir()
	netDir := filepath.Join(root, "net")
	if err := os.MkdirAll(netDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// tcp: garbage and a 1 MB line; tcp6: a FIFO nobody writes to, so a
	// plain read would block forever.
	garbage := "sl local\n" + strings.Repeat("Z", 1<<20) + "\n\x00\x01\x02 not a socket line\n"
	if err := os.WriteFile(filepath.Join(netDir, "tcp"), []byte(garbage), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(netDir, "tcp6"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, lines := runBounded(t, context.Background(), Config{
		Budget: 4 * time.Second, Ports: []uint16{8080}, ProcRoot: root,
		Signal: syscall.SIGUSR1, SignalName: "SIGUSR1",
		PollInterval: 50 * time.Millisecond,
	})
	if res.Drained {
		t.Errorf("an unreadable table must not read as 0 connections; log:\n%s", dump(lines))
	}
	if find(lines, "watch", "cannot count connections") < 0 {
		t.Errorf("want a 'cannot count' line; log:\n%s", dump(lines))
	}
}

func TestMissingTablesWaitTheBudget(t *testing.T) {
	res, lines := runBounded(t, context.Background(), Config{
		Budget: 500 * time.Millisecond, Ports: []uint16{8080}, ProcRoot: t.TempDir(),
	})
	if res.Drained || res.Left != -1 {
		t.Errorf("result %+v, want not drained, left unknown", res)
	}
	if find(lines, "watch", "connection table not readable") < 0 || find(lines, "watch", "drain budget elapsed") < 0 {
		t.Errorf("log:\n%s", dump(lines))
	}
}

func TestDrainURL(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path)
		mu.Unlock()
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/drain")
	_, lines := runBounded(t, context.Background(), Config{DrainURL: u, DrainMethod: "POST"})
	mu.Lock()
	if len(calls) != 1 || calls[0] != "POST /drain" {
		t.Errorf("calls = %v", calls)
	}
	mu.Unlock()
	if i := find(lines, "trigger", "drain-url called"); i < 0 || lines[i]["status"] != float64(200) {
		t.Errorf("log:\n%s", dump(lines))
	}
}

func TestDrainURLNonLoopbackRefused(t *testing.T) {
	// A server on this machine's non-loopback address, if it has one: the
	// helper must not call it. Otherwise a documentation address is used.
	host := "192.0.2.1"
	var hits int
	var mu sync.Mutex
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				host = ipn.IP.String()
				break
			}
		}
	}
	if ln, err := net.Listen("tcp", net.JoinHostPort(host, "0")); err == nil {
		srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { mu.Lock(); hits++; mu.Unlock() })}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		host = ln.Addr().String()
	}
	for _, raw := range []string{"http://" + host + "/drain", "http://example.com/drain", "http://[2001:db8::1]:8080/x"} {
		u, _ := url.Parse(raw)
		_, lines := runBounded(t, context.Background(), Config{DrainURL: u})
		if i := find(lines, "trigger", "drain-url refused"); i < 0 || lines[i]["level"] != "error" {
			t.Errorf("%s: want a refusal; log:\n%s", raw, dump(lines))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 0 {
		t.Errorf("non-loopback server got %d requests", hits)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true,
		"::ffff:127.0.0.1": true, "10.0.0.1": false, "0.0.0.0": false, "example.com": false,
		"localhost.example.com": false, "": false, "::": false, "128.0.0.1": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestDeadDrainEndpointDoesNotHang(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts, never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-hold; c.Close() }()
		}
	}()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	for _, addr := range []string{ln.Addr().String(), closedAddr} {
		u, _ := url.Parse("http://" + addr + "/drain")
		res, lines := runBounded(t, context.Background(), Config{DrainURL: u})
		if find(lines, "trigger", "drain-url call failed") < 0 || res.Interrupted {
			t.Errorf("%s: log:\n%s", addr, dump(lines))
		}
	}
}

func TestExecHookRunsAfterDrainWithExitCode(t *testing.T) {
	s := listen(t, "tcp4", "127.0.0.1:0")
	s.dial(t, s.ln.Addr().String(), 1)
	time.AfterFunc(300*time.Millisecond, s.closeAll)
	marker := filepath.Join(t.TempDir(), "hook-ran")
	res, lines := runBounded(t, context.Background(), Config{
		Budget: time.Minute, Ports: []uint16{s.port}, PollInterval: 50 * time.Millisecond,
		HookArgv: []string{"sh", "-c", `echo "$1" > "$2"; exit 3`, "sh", "after-drain", marker}, HookTimeout: 30 * time.Second,
	})
	if b, err := os.ReadFile(marker); err != nil || strings.TrimSpace(string(b)) != "after-drain" {
		t.Errorf("hook did not run with its argv: %q %v", b, err)
	}
	if res.HookExit != 3 {
		t.Errorf("HookExit = %d, want 3", res.HookExit)
	}
	drained := find(lines, "watch", "all watched connections closed")
	hook := find(lines, "hook", "original exec preStop failed")
	if drained < 0 || hook < 0 || hook < drained || lines[hook]["exit_code"] != float64(3) {
		t.Errorf("want drain then hook with exit_code 3; log:\n%s", dump(lines))
	}
}

func TestExecHookTimeoutKillsProcessGroup(t *testing.T) {
	// The shell starts a background child that would keep running (and keep
	// stdout open) if only the shell were killed.
	res, lines := runBounded(t, context.Background(), Config{
		HookArgv: []string{"sh", "-c", "sleep 60 & sleep 60"}, HookTimeout: 300 * time.Millisecond,
	})
	if i := find(lines, "hook", "timed out and was killed"); i < 0 {
		t.Errorf("log:\n%s", dump(lines))
	}
	if res.HookExit != -1 {
		t.Errorf("HookExit = %d, want -1 (killed)", res.HookExit)
	}
}

func TestExecHookNotFound(t *testing.T) {
	_, lines := runBounded(t, context.Background(), Config{HookArgv: []string{"/nonexistent/hook"}})
	if find(lines, "hook", "could not run") < 0 {
		t.Errorf("log:\n%s", dump(lines))
	}
}

func TestHTTPHookWithHeaders(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" || r.URL.Path != "/stop" {
			w.WriteHeader(400)
		}
		got <- r.Header.Clone()
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/stop")
	_, lines := runBounded(t, context.Background(), Config{
		HookURL: u, HookHeaders: []Header{{Name: "X-Token", Value: "s3cret"}, {Name: "X-Reason", Value: "drain done"}},
	})
	select {
	case h := <-got:
		if h.Get("X-Token") != "s3cret" || h.Get("X-Reason") != "drain done" {
			t.Errorf("headers = %v", h)
		}
	default:
		t.Fatalf("hook not called; log:\n%s", dump(lines))
	}
	if i := find(lines, "hook", "original httpGet preStop finished"); i < 0 || lines[i]["status"] != float64(200) {
		t.Errorf("log:\n%s", dump(lines))
	}
}

func TestInterruptedDuringDelayReturnsPromptly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	marker := filepath.Join(t.TempDir(), "hook")
	res, lines := runBounded(t, ctx, Config{
		Delay: time.Hour, Budget: time.Hour, Ports: []uint16{8080},
		HookArgv: []string{"touch", marker},
	})
	if !res.Interrupted || find(lines, "exit", "interrupted during delay") < 0 {
		t.Errorf("result %+v; log:\n%s", res, dump(lines))
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("hook ran after an interrupt")
	}
}

func TestHardBound(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1/x")
	cfg := Config{Delay: 20 * time.Second, Budget: 300 * time.Second}
	if got := HardBound(cfg); got != 322*time.Second {
		t.Errorf("no hook: %s", got)
	}
	cfg.HookArgv = []string{"x"}
	cfg.HookTimeout = 10 * time.Second
	if got := HardBound(cfg); got != 322*time.Second+12*time.Second {
		t.Errorf("exec hook: %s", got)
	}
	cfg.HookArgv, cfg.HookURL, cfg.HookTimeout = nil, u, 0
	if got := HardBound(cfg); got != 322*time.Second+MinHookTimeout+time.Second {
		t.Errorf("http hook with 0s timeout: %s", got)
	}
}

func TestListenAddrFor(t *testing.T) {
	a := netip.MustParseAddr
	listen := func(addr string, port uint16) procnet.Entry {
		return procnet.Entry{LocalAddr: a(addr), LocalPort: port, State: procnet.StateListen}
	}
	tests := []struct {
		name    string
		entries []procnet.Entry
		want    string // "" = keep the URL's 127.0.0.1
	}{
		{"wildcard v4", []procnet.Entry{listen("0.0.0.0", 80)}, ""},
		{"loopback v4", []procnet.Entry{listen("127.0.0.1", 80)}, ""},
		{"other v4 loopback", []procnet.Entry{listen("127.0.0.2", 80)}, "127.0.0.2"},
		{"dual-stack wildcard", []procnet.Entry{listen("::", 80)}, "::1"},
		{"v6 loopback only", []procnet.Entry{listen("::1", 80)}, "::1"},
		{"pod IP only", []procnet.Entry{listen("10.1.2.3", 80)}, "10.1.2.3"},
		{"pod IPv6 only", []procnet.Entry{listen("fd00::5", 80)}, "fd00::5"},
		{"pod IP and v4 loopback", []procnet.Entry{listen("10.1.2.3", 80), listen("127.0.0.1", 80)}, ""},
		{"pod IP and ::1", []procnet.Entry{listen("10.1.2.3", 80), listen("::1", 80)}, "::1"},
		{"other port only", []procnet.Entry{listen("10.1.2.3", 81)}, ""},
		{"established, not listening", []procnet.Entry{{LocalAddr: a("10.1.2.3"), LocalPort: 80, State: procnet.StateEstablished}}, ""},
		{"nothing", nil, ""},
	}
	for _, tt := range tests {
		got, ok := ListenAddrFor(tt.entries, 80)
		if (tt.want == "") == ok || (ok && got != a(tt.want)) {
			t.Errorf("%s: got %v %v, want %q", tt.name, got, ok, tt.want)
		}
	}
}

// elsewhereListeners serves HTTP on ::1 and on 127.0.0.2 in turn (listeners
// an app bound away from 127.0.0.1 would have), counting requests, and calls
// fn with the 127.0.0.1 URL written for that port.
func elsewhereListeners(t *testing.T, fn func(addr string, u *url.URL, calls *atomic.Int32)) {
	t.Helper()
	for _, addr := range []string{"[::1]:0", "127.0.0.2:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Logf("%s: %v (skipped: not available on this machine)", addr, err)
			continue
		}
		var calls atomic.Int32
		srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) })}
		go func() { _ = srv.Serve(ln) }()
		u, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + "/drain")
		fn(addr, u, &calls)
		_ = srv.Close()
	}
}

// An app bound only to ::1 (or only to the pod IP) never answers on
// 127.0.0.1: the call goes where the listener is.
func TestDrainURLReachesListenerBoundElsewhere(t *testing.T) {
	elsewhereListeners(t, func(addr string, u *url.URL, calls *atomic.Int32) {
		_, lines := runBounded(t, context.Background(), Config{DrainURL: u, DrainMethod: "POST"})
		if calls.Load() != 1 {
			t.Errorf("%s: drain endpoint got %d calls, want 1; log:\n%s", addr, calls.Load(), dump(lines))
		}
	})
}

// A hook that IS the drain (nginx -s quit, NATS lame duck) runs when the
// drain starts: here it is what makes the server close its connections, so
// the drain ends long before the budget, and the hook's exit code is kept.
func TestHookAsTriggerStartsTheDrain(t *testing.T) {
	s := listen(t, "tcp", "127.0.0.1:0")
	clients := s.dial(t, "127.0.0.1:"+itoa(s.port), 2)
	marker := filepath.Join(t.TempDir(), "drain-started")
	go func() {
		deadline := time.Now().Add(hangGuard)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(marker); err == nil {
				s.closeAll()
				for _, c := range clients {
					c.Close()
				}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	res, lines := runBounded(t, context.Background(), Config{
		Budget: 60 * time.Second, Ports: []uint16{s.port}, PollInterval: 50 * time.Millisecond,
		HookAsTrigger: true, HookArgv: []string{"sh", "-c", `touch "$0"; exit 3`, marker}, HookTimeout: 5 * time.Second,
	})
	if !res.Drained || res.HookExit != 3 {
		t.Errorf("drained %v hook exit %d; log:\n%s", res.Drained, res.HookExit, dump(lines))
	}
	started, closed := find(lines, "trigger", "own preStop as the drain trigger"), find(lines, "watch", "all watched connections closed")
	if started < 0 || closed < started {
		t.Errorf("want the hook started before the connections closed; log:\n%s", dump(lines))
	}
}

// A trigger hook that blocks (ingress-nginx /wait-shutdown waits for the
// server to exit) gets the hook timeout after the drain, then is stopped,
// within the hard bound.
func TestHookAsTriggerIsBounded(t *testing.T) {
	// No ports: the watch ends at once; the 60 s budget must not keep the hook alive.
	cfg := Config{Budget: 60 * time.Second, HookAsTrigger: true, HookArgv: []string{"sleep", "120"}, HookTimeout: time.Second}
	start := time.Now()
	res, lines := runBounded(t, context.Background(), cfg)
	if took := time.Since(start); took > cfg.Budget/2 {
		t.Errorf("took %s: the hook was left running for the budget, not the hook timeout; log:\n%s", took, dump(lines))
	}
	if res.HookExit != -1 || find(lines, "hook", "still running after the drain; stopping it") < 0 {
		t.Errorf("hook exit %d; log:\n%s", res.HookExit, dump(lines))
	}
}

// The pod's own httpGet preStop without a host is written as 127.0.0.1
// (kubelet would call the pod IP): an app bound elsewhere still gets it, as
// the trigger (at D) and after the drain.
func TestHookURLReachesListenerBoundElsewhere(t *testing.T) {
	elsewhereListeners(t, func(addr string, u *url.URL, calls *atomic.Int32) {
		for _, asTrigger := range []bool{true, false} {
			before := calls.Load()
			_, lines := runBounded(t, context.Background(), Config{HookURL: u, HookAsTrigger: asTrigger, HookTimeout: 2 * time.Second})
			if calls.Load() != before+1 {
				t.Errorf("%s, as trigger %v: hook endpoint got %d calls, want 1; log:\n%s", addr, asTrigger, calls.Load()-before, dump(lines))
			}
		}
	})
}
