package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// These tests run `install` the way the ws-drain-install init container does:
// as uid/gid 65532 (runAsNonRoot), into an emptyDir (mode 0777), with a
// read-only root filesystem; then the installed copy as an app container's
// uid from a read-only mount. Switching uid and mounting need root, which CI
// provides; the tests fail (never skip) without it.

const (
	initUID = 65532 // the init container's runAsUser/runAsGroup
	appUID  = 1000  // an app container with some other uid
)

// readOnlyRootSpec makes the test binary (childEnv) a tiny container runtime:
// in its own mount namespace it keeps -writable DIRs writable, makes / and
// every -readonly path read-only, checks that writes there fail, and runs
// the command as -uid/-gid with cwd /. Exit exitChildSetup means the setup
// itself failed; anything else is the command's exit code.
const (
	readOnlyRootSpec = "readonly-root"
	exitChildSetup   = 125
)

type pathList []string

func (p *pathList) String() string     { return strings.Join(*p, ",") }
func (p *pathList) Set(v string) error { *p = append(*p, v); return nil }

func runReadOnlyRoot(args []string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, readOnlyRootSpec+" child: "+format+"\n", a...)
		return exitChildSetup
	}
	var writable, readonly pathList
	fs := flag.NewFlagSet(readOnlyRootSpec, flag.ContinueOnError)
	fs.Var(&writable, "writable", "directory that stays writable (the emptyDir volume)")
	fs.Var(&readonly, "readonly", "extra path made read-only besides /")
	uid := fs.Int("uid", -1, "uid to run the command as")
	gid := fs.Int("gid", -1, "gid to run the command as")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 || *uid < 0 || *gid < 0 {
		return fail("want [-writable DIR] [-readonly PATH] -uid N -gid N -- CMD [ARGS]; got %q", args)
	}
	// Each path becomes its own mount (bind onto itself) so its flags can
	// differ from /'s, like a volume mount. Writable ones first: a bind of a
	// read-only mount would inherit read-only.
	for _, p := range append(append([]string{}, writable...), readonly...) {
		if err := syscall.Mount(p, p, "", syscall.MS_BIND, ""); err != nil {
			return fail("bind-mounting %s: %v", p, err)
		}
	}
	for _, p := range append([]string{"/"}, readonly...) {
		if err := syscall.Mount("", p, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
			return fail("remounting %s read-only: %v", p, err)
		}
	}
	// The binary's own directory is probed too: on a machine where it sits on
	// a separate mount (/tmp as tmpfs), the test must still prove something.
	probes := append([]string{"/", filepath.Dir(fs.Arg(0))}, readonly...)
	for _, dir := range probes {
		if st, err := os.Stat(dir); err == nil && !st.IsDir() {
			dir = filepath.Dir(dir)
		}
		f, err := os.CreateTemp(dir, ".ro-probe-")
		if err == nil {
			f.Close()
			os.Remove(f.Name())
			return fail("%s is still writable after the read-only remount (is it on a mount of its own? add -readonly)", dir)
		}
		if !errors.Is(err, syscall.EROFS) {
			return fail("probe write in %s: %v, want EROFS", dir, err)
		}
	}
	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(*uid), Gid: uint32(*gid)}}
	err := cmd.Run()
	if cmd.ProcessState == nil {
		return fail("running %s: %v", fs.Arg(0), err)
	}
	return cmd.ProcessState.ExitCode()
}

// runInReadOnlyRoot runs argv through the readonly-root child in a new mount
// namespace (Go makes / recursively private there, so nothing leaks out).
func runInReadOnlyRoot(t *testing.T, flags []string, argv ...string) (int, *helperRun) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, append(append(flags, "--"), argv...)...)
	cmd.Env = append(os.Environ(), childEnv+"="+readOnlyRootSpec)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	r := startCmd(t, cmd)
	code := r.wait(t)
	if code == exitChildSetup {
		t.Fatalf("could not build the read-only root filesystem (needs root and mount namespaces, a CI requirement):\n%s", r.stderr.String())
	}
	return code, r
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("this test switches to uid %d/%d and mounts a read-only root: run `go test` as root (a CI requirement), euid is %d", initUID, appUID, os.Geteuid())
	}
}

// emptyDir makes DIR like a fresh emptyDir volume (mode 0777) owned by uid,
// under a parent every uid can traverse (t.TempDir's parent is 0700).
func emptyDir(t *testing.T, uid int, mode os.FileMode) string {
	t.Helper()
	parent, err := os.MkdirTemp("", "ws-drain-install-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	dir := filepath.Join(parent, "ws-drain")
	for _, err := range []error{os.Chmod(parent, 0o755), os.Mkdir(dir, 0o700), os.Chmod(dir, mode), os.Chown(dir, uid, uid)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func asUser(uid int, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	return cmd
}

// checkInstalled asserts the init container's result: exactly one file, the
// helper byte for byte, mode 0555, owned by the installing uid.
func checkInstalled(t *testing.T, dir string, owner int, stdout string) {
	t.Helper()
	dest := filepath.Join(dir, installedName)
	lines := logLines(t, stdout)
	if len(lines) != 1 || lines[0]["phase"] != "install" || lines[0]["level"] != "info" ||
		lines[0]["msg"] != "helper installed" || lines[0]["path"] != dest || lines[0]["version"] != testVersion {
		t.Errorf("want one install log line naming %s; stdout:\n%s", dest, stdout)
	}
	fi, err := os.Stat(dest)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o555 {
		t.Errorf("mode %v, want a regular file with 0555", fi.Mode())
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != owner || int(st.Gid) != owner {
		t.Errorf("owner %d:%d, want %d:%d", st.Uid, st.Gid, owner, owner)
	}
	want, err := os.ReadFile(helperBin)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dest); err != nil || !bytes.Equal(got, want) {
		t.Errorf("installed file differs from the built helper (%d vs %d bytes, %v)", len(got), len(want), err)
	}
	if names := dirNames(t, dir); len(names) != 1 || names[0] != installedName {
		t.Errorf("DIR holds %v, want only %s (temp files left behind?)", names, installedName)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

func TestInstallAsNonRootInitContainer(t *testing.T) {
	requireRoot(t)
	dir := emptyDir(t, initUID, 0o777)
	code, r := runCmd(t, asUser(initUID, helperBin, "install", dir))
	if code != 0 {
		t.Fatalf("install as uid %d: exit %d; stdout:\n%s\nstderr:\n%s", initUID, code, r.stdout.String(), r.stderr.String())
	}
	if r.stderr.String() != "" {
		t.Errorf("unexpected stderr:\n%s", r.stderr.String())
	}
	checkInstalled(t, dir, initUID, r.stdout.String())

	// An app container runs the copy under its own uid.
	code, r = runCmd(t, asUser(appUID, filepath.Join(dir, installedName), "version"))
	if code != 0 || strings.TrimSpace(r.stdout.String()) != testVersion {
		t.Errorf("installed helper as uid %d: exit %d stdout %q stderr %q", appUID, code, r.stdout.String(), r.stderr.String())
	}
}

func TestInstallOnReadOnlyRootFilesystem(t *testing.T) {
	requireRoot(t)
	dir := emptyDir(t, initUID, 0o777)
	uid := strconv.Itoa(initUID)
	code, r := runInReadOnlyRoot(t, []string{"-writable", dir, "-readonly", filepath.Dir(helperBin), "-uid", uid, "-gid", uid},
		helperBin, "install", dir)
	if code != 0 {
		t.Fatalf("install with a read-only root: exit %d; stdout:\n%s\nstderr:\n%s", code, r.stdout.String(), r.stderr.String())
	}
	checkInstalled(t, dir, initUID, r.stdout.String())

	// The app container mounts the volume read-only and runs it as its own uid.
	app := strconv.Itoa(appUID)
	code, r = runInReadOnlyRoot(t, []string{"-readonly", dir, "-uid", app, "-gid", app}, filepath.Join(dir, installedName), "version")
	if code != 0 || strings.TrimSpace(r.stdout.String()) != testVersion {
		t.Errorf("installed helper from a read-only mount as uid %d: exit %d stdout %q stderr %q", appUID, code, r.stdout.String(), r.stderr.String())
	}
}

// A missing DIR is covered by TestInstall; these are the unwritable ones.
func TestInstallIntoUnwritableDirFails(t *testing.T) {
	requireRoot(t)
	uid := strconv.Itoa(initUID)
	cases := []struct {
		name, cause string
		run         func(dir string) (int, *helperRun)
		dirMode     os.FileMode
		dirOwner    int
	}{
		{"owned by root, mode 0755", "permission denied",
			func(dir string) (int, *helperRun) { return runCmd(t, asUser(initUID, helperBin, "install", dir)) }, 0o755, 0},
		{"on a read-only mount", "read-only file system",
			func(dir string) (int, *helperRun) {
				return runInReadOnlyRoot(t, []string{"-readonly", dir, "-uid", uid, "-gid", uid}, helperBin, "install", dir)
			}, 0o777, initUID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := emptyDir(t, tc.dirOwner, tc.dirMode)
			code, r := tc.run(dir)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stdout:\n%s\nstderr:\n%s", code, r.stdout.String(), r.stderr.String())
			}
			lines := logLines(t, r.stdout.String())
			i := find(lines, "install", "install failed")
			if i < 0 || lines[i]["level"] != "error" || lines[i]["dir"] != dir {
				t.Fatalf("want an error log line naming %s; stdout:\n%s", dir, r.stdout.String())
			}
			msg, _ := lines[i]["error"].(string)
			for _, want := range []string{"writable by uid " + uid, tc.cause} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("DIR should stay empty, holds %v", names)
			}
		})
	}
}
