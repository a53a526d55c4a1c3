package drain

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Hostile /proc trees (issue 12): what the helper must never conclude from them.

const tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

func writeTable(t *testing.T, root, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "net", name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestUnreadableTCPBesideReadableTCP6IsNotZero(t *testing.T) {
	// tcp is a directory (read fails with EISDIR; chmod would not stop root),
	// tcp6 reads fine and has no connection: the IPv4 count is unknown, so
	// the drain must wait out the budget rather than end at once.
	root := t.TempDir()
	writeTable(t, root, "tcp6", tcpHeader)
	if err := os.MkdirAll(filepath.Join(root, "net", "tcp"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, lines := runBounded(t, context.Background(), Config{Budget: 400 * time.Millisecond, Ports: []uint16{8080}, ProcRoot: root})
	if res.Drained {
		t.Errorf("drained with tcp unreadable; log:\n%s", dump(lines))
	}
	if find(lines, "watch", "connection table not readable") < 0 || find(lines, "watch", "cannot count connections") < 0 {
		t.Errorf("want the unreadable table and 'cannot count' logged; log:\n%s", dump(lines))
	}
	if find(lines, "watch", "all watched connections closed") >= 0 {
		t.Errorf("claimed all connections closed; log:\n%s", dump(lines))
	}
}

func TestMissingTCP6IsIPv6DisabledNotUnknown(t *testing.T) {
	// The one real absence: no tcp6 (IPv6 off) and an empty tcp is 0 connections.
	root := t.TempDir()
	writeTable(t, root, "tcp", tcpHeader)
	res, lines := runBounded(t, context.Background(), Config{Budget: 30 * time.Second, Ports: []uint16{8080}, ProcRoot: root})
	if !res.Drained || res.Left != 0 {
		t.Errorf("result %+v, want drained; log:\n%s", res, dump(lines))
	}
}

func TestPidDirNamesAreParsedStrictly(t *testing.T) {
	// "+1", "00001", "4294967295" (kill(2) would see -1) and "1e3" hold the
	// listening socket in this tree; none of them is a pid, so nothing is
	// signalled through them, and that is reported.
	root := t.TempDir()
	writeTable(t, root, "tcp", tcpHeader+
		"   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777002 1 0000000000000000 100 0 0 10 0\n")
	for _, name := range []string{"+1", "00001", "4294967295", "1e3", "-1", " 1"} {
		fd := filepath.Join(root, name, "fd")
		if err := os.MkdirAll(fd, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("socket:[777002]", filepath.Join(fd, "3")); err != nil {
			t.Fatal(err)
		}
	}
	_, lines := runBounded(t, context.Background(), Config{
		Signal: syscall.SIGUSR1, SignalName: "SIGUSR1", Ports: []uint16{8080}, ProcRoot: root,
	})
	if find(lines, "trigger", "sent drain signal") >= 0 || find(lines, "trigger", "no process signalled") < 0 {
		t.Errorf("a non-canonical pid dir was signalled; log:\n%s", dump(lines))
	}
}

func TestBlockingFdDirIsAbandonedAndTheHookStillRuns(t *testing.T) {
	// /proc/<pid>/fd is a FIFO: open(2) blocks forever. The owner lookup is
	// abandoned at the trigger timeout and the timeline goes on to the hook.
	sleeper := startSleeper(t)
	root := t.TempDir()
	writeTable(t, root, "tcp", tcpHeader+
		"   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777003 1 0000000000000000 100 0 0 10 0\n")
	pidDir := filepath.Join(root, strconv.Itoa(sleeper.Process.Pid))
	if err := os.MkdirAll(pidDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(pidDir, "fd"), 0o644); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "hook-ran")
	res, lines := runBounded(t, context.Background(), Config{
		Signal: syscall.SIGUSR1, SignalName: "SIGUSR1", Ports: []uint16{8080}, ProcRoot: root,
		HookArgv: []string{"/bin/sh", "-c", "touch " + marker}, HookTimeout: 5 * time.Second,
	})
	if res.HookExit != 0 {
		t.Errorf("hook exit %d, want 0; log:\n%s", res.HookExit, dump(lines))
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the original hook did not run: %v; log:\n%s", err, dump(lines))
	}
	if i := find(lines, "trigger", "no process signalled"); i < 0 {
		t.Errorf("want the abandoned lookup reported; log:\n%s", dump(lines))
	}
}
