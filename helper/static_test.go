package main

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// maxBinaryBytes is the size budget of the helper: it is copied into every
// opted-in pod by the init container.
const maxBinaryBytes = 3 * 1024 * 1024

// TestBuiltBinaryIsStatic checks the binary build.sh produced (it sets
// WS_DRAIN_HELPER_BIN) or, under plain "go test", one built the same way in
// TestMain: no dynamic loader, no shared libraries, within the size budget.
// WS_DRAIN_HELPER_ARCH (a GOARCH) also checks the ELF machine, for binaries
// cross-compiled for another platform (release images: docs/release.md).
func TestBuiltBinaryIsStatic(t *testing.T) {
	bin := os.Getenv("WS_DRAIN_HELPER_BIN")
	if bin == "" {
		bin = helperBin
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes", bin, fi.Size())
	if fi.Size() > maxBinaryBytes {
		t.Errorf("%s is %d bytes, budget is %d", bin, fi.Size(), maxBinaryBytes)
	}
	if problems := dynamicLinking(bin); len(problems) > 0 {
		t.Errorf("%s is not static: %v", bin, problems)
	}
	if arch := os.Getenv("WS_DRAIN_HELPER_ARCH"); arch != "" {
		if got, err := elfArch(bin); err != nil || got != arch {
			t.Errorf("%s: ELF machine is %q (%v), want GOARCH %q", bin, got, err, arch)
		}
	}
}

// elfArch names an ELF file's machine as a GOARCH ("amd64", "arm64"), or the
// elf.Machine's name for others.
func elfArch(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64", nil
	case elf.EM_AARCH64:
		return "arm64", nil
	default:
		return f.Machine.String(), nil
	}
}

// TestElfArchNamesThisBinary proves the machine check can tell architectures
// apart: the running test binary is of this GOARCH.
func TestElfArchNamesThisBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := elfArch(self); err != nil || got != runtime.GOARCH {
		t.Errorf("elfArch(test binary) = %q, %v; want %q", got, err, runtime.GOARCH)
	}
}

// TestStaticCheckFlagsDynamicBinary proves the check above can fail: the
// system shell of a glibc distribution is dynamically linked.
func TestStaticCheckFlagsDynamicBinary(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh to inspect: %v", err)
	}
	if sh, err = filepath.EvalSymlinks(sh); err != nil {
		t.Fatal(err)
	}
	if problems := dynamicLinking(sh); len(problems) == 0 {
		t.Errorf("%s reported static; the check would miss a dynamic helper", sh)
	}
}

// dynamicLinking lists why an ELF file would need a dynamic loader.
func dynamicLinking(path string) []string {
	f, err := elf.Open(path)
	if err != nil {
		return []string{fmt.Sprintf("not a readable ELF file: %v", err)}
	}
	defer f.Close()
	var problems []string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			problems = append(problems, "PT_INTERP program header")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		problems = append(problems, fmt.Sprintf("reading DT_NEEDED: %v", err))
	}
	for _, l := range libs {
		problems = append(problems, "DT_NEEDED "+l)
	}
	return problems
}
