package jsonlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func decode(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("not JSON: %q: %v", line, err)
	}
	return m
}

func TestLineFormat(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, "app")
	l.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC) }
	l.Info("watch", "waiting", "established", 3, "ports", []uint16{8080, 8443}, "budget", 5*time.Minute,
		"argv", []string{"sh", "-c", `echo "hi"`}, "error", errors.New("boom"), "drained", false, "owners", []int{1, 7})
	line := buf.String()
	if !strings.HasPrefix(line, `{"ts":"2026-01-02T03:04:05.006Z","level":"info","component":"ws-drain-helper","container":"app","phase":"watch","msg":"waiting",`) {
		t.Errorf("fixed fields not first/in order: %s", line)
	}
	if !strings.HasSuffix(line, "}\n") || strings.Count(line, "\n") != 1 {
		t.Errorf("want exactly one line: %q", line)
	}
	m := decode(t, line)
	if m["established"] != float64(3) || m["budget"] != "5m0s" || m["error"] != "boom" || m["drained"] != false {
		t.Errorf("values: %v", m)
	}
	if ports, _ := m["ports"].([]any); len(ports) != 2 || ports[1] != float64(8443) {
		t.Errorf("ports = %v", m["ports"])
	}
	if argv, _ := m["argv"].([]any); len(argv) != 3 || argv[2] != `echo "hi"` {
		t.Errorf("argv = %v", m["argv"])
	}
}

func TestStringEscaping(t *testing.T) {
	nasty := "quote\" backslash\\ nl\n cr\r tab\t nul\x00 bell\x07 del\x7f ls\u2028 bad\xff\xfe utf8 é 😀"
	var buf bytes.Buffer
	New(&buf, "").Warn("hook", nasty, "k\"ey", nasty)
	line := buf.String()
	if strings.Count(line, "\n") != 1 {
		t.Fatalf("control characters leaked a newline: %q", line)
	}
	m := decode(t, line)
	want := strings.Replace(nasty, "\xff\xfe", "\uFFFD\uFFFD", 1) // each invalid byte becomes U+FFFD
	if m["msg"] != want || m["k\"ey"] != want {
		t.Errorf("round trip:\n got %q\nwant %q", m["msg"], want)
	}
	if _, ok := m["container"]; ok {
		t.Error("empty container should be omitted")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("EPIPE") }

func TestFallsBackWhenTargetFails(t *testing.T) {
	var fb bytes.Buffer
	l := New(failingWriter{}, "app")
	l.fallback = &fb
	l.Info("start", "one")
	l.Info("exit", "two")
	if got := strings.Count(fb.String(), "\n"); got != 2 {
		t.Errorf("fallback got %d lines, want 2: %q", got, fb.String())
	}
	if l.Target != "stderr" {
		t.Errorf("Target = %q", l.Target)
	}
}

func TestOpenTargetAutoUsesPID1Stdout(t *testing.T) {
	root := t.TempDir()
	fd := filepath.Join(root, "1", "fd")
	if err := os.MkdirAll(fd, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "container-stdout")
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(out, filepath.Join(fd, "1")); err != nil {
		t.Fatal(err)
	}
	w, name, closeFn := OpenTarget("", root)
	New(w, "app").Info("start", "hello")
	closeFn()
	if name != filepath.Join(fd, "1") {
		t.Errorf("name = %q", name)
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), `"msg":"hello"`) {
		t.Errorf("container stdout = %q", b)
	}
}

// A FIFO with no reader would block open(2) forever without O_NONBLOCK.
func TestOpenTargetFIFOWithoutReaderFallsBack(t *testing.T) {
	root := t.TempDir()
	fd := filepath.Join(root, "1", "fd")
	if err := os.MkdirAll(fd, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(fd, "1"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() {
		_, name, closeFn := OpenTarget("auto", root)
		closeFn()
		done <- name
	}()
	select {
	case name := <-done:
		if name != "stderr" {
			t.Errorf("name = %q, want stderr", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OpenTarget blocked on a FIFO without a reader")
	}
}

func TestOpenTargetMissingAndExplicit(t *testing.T) {
	if _, name, _ := OpenTarget("", t.TempDir()); name != "stderr" {
		t.Errorf("missing /proc/1/fd/1: name = %q, want stderr", name)
	}
	if w, name, _ := OpenTarget("stdout", "/proc"); name != "stdout" || w != os.Stdout {
		t.Errorf("stdout: %q", name)
	}
	p := filepath.Join(t.TempDir(), "log") // created on demand
	if _, name, closeFn := OpenTarget(p, "/proc"); name != p {
		t.Errorf("file: %q", name)
	} else {
		closeFn()
	}
}

// A pipe whose reader stopped reading fills up; a write then must give up
// (deadline) and move to the fallback instead of blocking the drain.
func TestFullPipeDoesNotBlock(t *testing.T) {
	root := t.TempDir()
	fd := filepath.Join(root, "1", "fd")
	if err := os.MkdirAll(fd, 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(fd, "1")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	reader, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0) // never read from
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	w, name, closeFn := OpenTarget("", root)
	defer closeFn()
	if name != fifo {
		t.Fatalf("target = %q, want the FIFO", name)
	}
	var fb bytes.Buffer
	l := New(w, "app")
	l.fallback = &fb
	done := make(chan struct{})
	go func() {
		for i := 0; i < 2000; i++ { // ~300 KB, several times a pipe buffer
			l.Info("watch", strings.Repeat("x", 100), "i", i)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("logging blocked on a full pipe")
	}
	if l.Target != "stderr" || fb.Len() == 0 {
		t.Errorf("Target=%q fallback bytes=%d, want the fallback in use", l.Target, fb.Len())
	}
}
