package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// childEnv makes the test binary act as a tiny app instead of running tests:
// "listen:FILE" listens on 127.0.0.1:0, prints the port, holds every accepted
// connection, and on SIGUSR1 writes "SIGUSR1 <pid>" to FILE and closes its
// connections one by one, like an app draining on its drain signal.
// "readonly-root" runs a command in a read-only root filesystem (install_test.go).
const childEnv = "WS_DRAIN_TEST_CHILD"

func runChild(spec string) int {
	if spec == readOnlyRootSpec {
		return runReadOnlyRoot(os.Args[1:])
	}
	file, ok := strings.CutPrefix(spec, "listen:")
	if !ok {
		fmt.Fprintln(os.Stderr, "unknown child spec", spec)
		return 2
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	fmt.Printf("%d\n", ln.Addr().(*net.TCPAddr).Port)
	select {
	case <-sigs:
	case <-time.After(60 * time.Second): // never outlive a broken test
		return 3
	}
	if err := os.WriteFile(file, []byte(fmt.Sprintf("SIGUSR1 %d", os.Getpid())), 0o644); err != nil {
		return 1
	}
	mu.Lock()
	defer mu.Unlock()
	for _, c := range conns {
		time.Sleep(50 * time.Millisecond)
		c.Close()
	}
	// Keep the listener open a moment so the helper sees connections, not a gone app.
	time.Sleep(2 * time.Second)
	return 0
}
