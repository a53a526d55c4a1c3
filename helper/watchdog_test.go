package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ws-drain/ws-drain/helper/internal/jsonlog"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWatchdogExitsNonZeroWithALogLine(t *testing.T) {
	var out syncBuffer
	codes := make(chan int, 1)
	armWatchdog(300*time.Millisecond, jsonlog.New(&out, "app"), func(code int) { codes <- code })
	select {
	case code := <-codes:
		if code != exitWatchdog || code == exitOK {
			t.Errorf("exit code %d, want %d", code, exitWatchdog)
		}
	case <-time.After(30 * time.Second): // hang guard only
		t.Fatal("watchdog never fired")
	}
	if !strings.Contains(out.String(), "hard time bound reached") {
		t.Errorf("no log line: %q", out.String())
	}
}

// blockingWriter never returns from Write: a stuck log pipe.
type blockingWriter struct{}

func (blockingWriter) Write(p []byte) (int, error) { select {} }

func TestWatchdogExitsEvenWhenTheLogBlocks(t *testing.T) {
	codes := make(chan int, 1)
	armWatchdog(300*time.Millisecond, jsonlog.New(blockingWriter{}, "app"), func(code int) { codes <- code })
	select {
	case code := <-codes:
		if code != exitWatchdog {
			t.Errorf("exit code %d, want %d", code, exitWatchdog)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watchdog never fired with a blocked log")
	}
}
