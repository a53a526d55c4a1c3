// Package sockowner maps socket inodes to the processes holding them, by
// reading the /proc/[pid]/fd symlinks ("socket:[12345]"). This is how the
// helper finds which process to signal: the app's PID is not known in advance
// (it may be PID 1, a child of a shell wrapper, or one of several workers), but
// the listening socket on the drained port is.
//
// Processes come and go during the scan and /proc entries of other users are
// unreadable; both are normal and skipped, never errors.
package sockowner

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// maxFDsPerProcess bounds the work spent on one process so a process with a
// million descriptors cannot eat the drain budget.
const maxFDsPerProcess = 1 << 16

// Owners returns, sorted ascending, the PIDs under procRoot that hold an fd
// for any of the given socket inodes. self (usually os.Getpid()) is skipped.
// Only a cancelled context or an unreadable procRoot is an error.
func Owners(ctx context.Context, procRoot string, inodes map[uint64]bool, self int) ([]int, error) {
	if len(inodes) == 0 {
		return nil, nil
	}
	root, err := os.Open(procRoot)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var pids []int
	for {
		names, err := root.Readdirnames(512)
		for _, name := range names {
			if ctx.Err() != nil {
				return pids, ctx.Err()
			}
			pid, ok := ParsePID(name)
			if !ok || pid == self {
				continue
			}
			if holds(ctx, filepath.Join(procRoot, name, "fd"), inodes) {
				pids = append(pids, pid)
			}
		}
		if err != nil {
			break // io.EOF or a vanished directory entry: what we have is the answer
		}
	}
	sort.Ints(pids)
	return pids, ctx.Err()
}

// holds reports whether the fd directory has a link to one of the inodes.
func holds(ctx context.Context, fdDir string, inodes map[uint64]bool) bool {
	d, err := os.Open(fdDir)
	if err != nil {
		return false // exited, or not ours to read
	}
	defer d.Close()
	seen := 0
	for seen < maxFDsPerProcess {
		names, err := d.Readdirnames(256)
		for _, n := range names {
			seen++
			target, lerr := os.Readlink(filepath.Join(fdDir, n))
			if lerr != nil {
				continue
			}
			if ino, ok := SocketInode(target); ok && inodes[ino] {
				return true
			}
		}
		if err != nil || ctx.Err() != nil {
			return false
		}
	}
	return false
}

// MaxPID is the kernel's PID_MAX_LIMIT on 64-bit: no pid is larger.
const MaxPID = 1 << 22

// ParsePID accepts a pid exactly as the kernel writes one (a /proc directory
// name): decimal digits, no sign, no leading zero, 1..MaxPID. Anything else —
// "+1", "00001", "4294967295" (which kill(2) would see as -1, every process)
// — is not a pid.
func ParsePID(s string) (int, bool) {
	if s == "" || len(s) > 7 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > MaxPID {
		return 0, false
	}
	return n, true
}

// SocketInode parses a fd link target of the form "socket:[12345]".
func SocketInode(target string) (uint64, bool) {
	rest, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok || num == "" {
		return 0, false
	}
	ino, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, false
	}
	return ino, true
}

// SameContainer splits pids into those in the caller's container and the
// rest. Containers of a pod share the network namespace, and with
// shareProcessNamespace also the PID namespace, so a listener's owner may be
// another container's process; each container has its own mount namespace,
// which tells them apart. When the caller's own mount namespace is not
// readable under procRoot (a fixture tree) every pid counts as ours; a pid
// whose namespace cannot be read is not ours (if its fds were readable, its
// namespace is too).
func SameContainer(procRoot string, pids []int) (ours, others []int) {
	self, err := os.Readlink(filepath.Join(procRoot, "self", "ns", "mnt"))
	if err != nil {
		return pids, nil
	}
	for _, pid := range pids {
		ns, err := os.Readlink(filepath.Join(procRoot, strconv.Itoa(pid), "ns", "mnt"))
		if err == nil && ns == self {
			ours = append(ours, pid)
		} else {
			others = append(others, pid)
		}
	}
	return ours, others
}
