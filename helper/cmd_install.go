package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ws-drain/ws-drain/helper/internal/jsonlog"
)

const installUsage = `Usage: ws-drain-helper install DIR

Copies this executable to DIR/ws-drain-helper (mode 0555), atomically: a temp
file in DIR is written, synced and renamed. Only DIR needs to be writable, so it
runs as non-root with a read-only root filesystem (the ws-drain init container).
`

// installedName is the file name the injected preStop runs (/ws-drain/ws-drain-helper).
const installedName = "ws-drain-helper"

func runInstall(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && isHelp(args[0]) {
		fmt.Fprint(stdout, installUsage)
		return exitOK
	}
	if len(args) != 1 || args[0] == "" {
		fmt.Fprintf(stderr, "ws-drain-helper install: want exactly one DIR argument\n\n%s", installUsage)
		return exitUsage
	}
	// An init container's stdout is what `kubectl logs -c ws-drain-install` shows.
	log := jsonlog.New(stdout, "")
	dest, size, err := install(args[0])
	if err != nil {
		log.Error("install", "install failed", "dir", args[0], "error", err)
		return 1
	}
	log.Info("install", "helper installed", "path", dest, "bytes", size, "version", version)
	return exitOK
}

func install(dir string) (string, int64, error) {
	self, err := os.Executable()
	if err != nil {
		return "", 0, fmt.Errorf("finding own executable: %w", err)
	}
	src, err := os.Open(self)
	if err != nil {
		return "", 0, err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(dir, "."+installedName+"-*")
	if err != nil {
		// The usual init-container mistakes: no volume mounted, or one the uid cannot write.
		return "", 0, fmt.Errorf("cannot create a file in DIR (it must be an existing directory writable by uid %d): %w", os.Getuid(), err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	n, err := io.Copy(tmp, src)
	if err != nil {
		return "", 0, fmt.Errorf("copying %s: %w", self, err)
	}
	if err := tmp.Chmod(0o555); err != nil {
		return "", 0, err
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, err
	}
	if err := tmp.Close(); err != nil {
		return "", 0, err
	}
	dest := filepath.Join(dir, installedName)
	if err := os.Rename(tmpName, dest); err != nil {
		return "", 0, err
	}
	ok = true
	return dest, n, nil
}
