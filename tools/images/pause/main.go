// Command pause is the sandbox ("pause") container of every pod on the test
// node (test/node): it holds the pod's namespaces open and does nothing else.
// Public pause images cannot be pulled on CI machines, so this one is built
// here (tools/images/build.sh) and served by the node's local registry.
//
// Like registry.k8s.io/pause it exits on SIGINT/SIGTERM and reaps children,
// so it is a proper PID 1 when a pod shares its process namespace.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every exited child without blocking.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
