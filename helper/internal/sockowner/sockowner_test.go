package sockowner

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/ws-drain/ws-drain/helper/internal/procnet"
)

// fakeProc builds a /proc-shaped tree: for each pid, fd links with the given
// targets (real /proc fd entries are symlinks to "socket:[N]", "pipe:[N]",
// "/dev/null", ...).
func fakeProc(t *testing.T, procs map[string][]string) string {
	t.Helper()
	root := t.TempDir()
	for pid, targets := range procs {
		fd := filepath.Join(root, pid, "fd")
		if err := os.MkdirAll(fd, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, target := range targets {
			if err := os.Symlink(target, filepath.Join(fd, strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestOwnersInFixtureTree(t *testing.T) {
	root := fakeProc(t, map[string][]string{
		"1":   {"/dev/null", "pipe:[100]", "socket:[5000]"},
		"7":   {"socket:[5001]", "socket:[5002]"},
		"12":  {"socket:[5002]"}, // a forked worker sharing the listener
		"30":  {"anon_inode:[eventpoll]", "socket:[999]"},
		"abc": {"socket:[5002]"}, // not a pid directory
	})
	// Entries /proc has that are not processes.
	if err := os.MkdirAll(filepath.Join(root, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "uptime"), []byte("1 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A process whose fd directory is missing (exited mid-scan).
	if err := os.MkdirAll(filepath.Join(root, "44"), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		inodes []uint64
		self   int
		want   []int
	}{
		{"single owner", []uint64{5000}, 0, []int{1}},
		{"shared socket, sorted", []uint64{5002}, 0, []int{7, 12}},
		{"self is skipped", []uint64{5002}, 7, []int{12}},
		{"several inodes", []uint64{5000, 5001}, 0, []int{1, 7}},
		{"no owner", []uint64{4242}, 0, nil},
		{"no inodes", nil, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := map[uint64]bool{}
			for _, i := range tt.inodes {
				set[i] = true
			}
			got, err := Owners(context.Background(), root, set, tt.self)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Owners = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOwnersMissingRootAndCancel(t *testing.T) {
	if _, err := Owners(context.Background(), filepath.Join(t.TempDir(), "nope"), map[uint64]bool{1: true}, 0); err == nil {
		t.Error("missing proc root: want an error")
	}
	root := fakeProc(t, map[string][]string{"1": {"socket:[5]"}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Owners(ctx, root, map[uint64]bool{5: true}, 0); err == nil {
		t.Error("cancelled context: want an error")
	}
}

func TestSocketInode(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"socket:[12345]", 12345, true},
		{"socket:[0]", 0, true},
		{"socket:[]", 0, false},
		{"socket:[12a]", 0, false},
		{"socket:[123", 0, false},
		{"pipe:[123]", 0, false},
		{"/dev/null", 0, false},
		{"socket:[99999999999999999999999]", 0, false},
	}
	for _, tt := range tests {
		got, ok := SocketInode(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("SocketInode(%q) = %d,%v want %d,%v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestOwnersLiveProc finds this test process as the owner of a listener it
// opens, through the real /proc, the way the helper finds the app.
func TestOwnersLiveProc(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	inodes := map[uint64]bool{}
	if _, err := procnet.ScanFile("/proc/net/tcp", 0, func(e procnet.Entry) {
		if e.State == procnet.StateListen && e.LocalPort == port {
			inodes[e.Inode] = true
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(inodes) != 1 {
		t.Fatalf("listening inodes for port %d: %v, want exactly one", port, inodes)
	}
	got, err := Owners(context.Background(), "/proc", inodes, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []int{os.Getpid()}) {
		t.Errorf("Owners = %v, want [%d] (this test process)", got, os.Getpid())
	}
}

func TestParsePIDIsStrict(t *testing.T) {
	good := map[string]int{"1": 1, "42": 42, "4194304": 4194304}
	for s, want := range good {
		if got, ok := ParsePID(s); !ok || got != want {
			t.Errorf("ParsePID(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "0", "00001", "+1", "-1", " 1", "1 ", "1e3", "0x10", "4194305", "4294967295", "18446744073709551617", "１"} {
		if got, ok := ParsePID(s); ok {
			t.Errorf("ParsePID(%q) = %d, accepted", s, got)
		}
	}
}
