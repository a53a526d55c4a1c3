package httpcall

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestDoSendsRequestAndReadsStatus(t *testing.T) {
	var mu sync.Mutex
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Clone(context.Background())
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, strings.Repeat("x", 200_000)) // more than is drained
	}))
	defer srv.Close()
	status, err := Do(context.Background(), Request{
		Method:  "POST",
		URL:     mustURL(t, srv.URL+"/drain?now=1"),
		Headers: []Header{{"X-Token", "abc"}, {"Host", "app.internal"}, {"X-Multi", "1"}, {"X-Multi", "2"}},
		Timeout: 5 * time.Second,
	})
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("status=%d err=%v", status, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.Method != "POST" || got.URL.RequestURI() != "/drain?now=1" || got.Host != "app.internal" {
		t.Errorf("request: %s %s host=%s", got.Method, got.URL.RequestURI(), got.Host)
	}
	if got.Header.Get("X-Token") != "abc" || len(got.Header.Values("X-Multi")) != 2 || got.Header.Get("User-Agent") != "ws-drain-helper" {
		t.Errorf("headers: %v", got.Header)
	}
}

func TestDoStatusCodes(t *testing.T) {
	for _, code := range []int{200, 204, 302, 404, 503} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Location", "http://example.invalid/")
			w.WriteHeader(code)
		}))
		status, err := Do(context.Background(), Request{Method: "GET", URL: mustURL(t, srv.URL), Timeout: 5 * time.Second})
		srv.Close()
		if err != nil || status != code {
			t.Errorf("code %d: got status=%d err=%v (redirects must not be followed)", code, status, err)
		}
	}
}

// rawServer accepts connections and hands each to fn.
func rawServer(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go fn(c)
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

func TestDoBoundedAgainstBadServers(t *testing.T) {
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	tests := []struct {
		name   string
		fn     func(net.Conn)
		status int // 0: an error is expected
	}{
		{"never answers", func(c net.Conn) { <-hold; c.Close() }, 0},
		{"garbage status line", func(c net.Conn) { _, _ = io.WriteString(c, "SSH-2.0-OpenSSH\r\n\r\n"); c.Close() }, 0},
		{"closes at once", func(c net.Conn) { c.Close() }, 0},
		{"endless header", func(c net.Conn) {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			for {
				if _, err := io.WriteString(c, "X-Pad: "+strings.Repeat("a", 1000)+"\r\n"); err != nil {
					return
				}
			}
		}, 200},
		{"trickles forever", func(c net.Conn) {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
			for {
				if _, err := io.WriteString(c, "x"); err != nil {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := rawServer(t, tt.fn)
			type result struct {
				status int
				err    error
			}
			done := make(chan result, 1)
			go func() {
				status, err := Do(context.Background(), Request{Method: "GET", URL: mustURL(t, u), Timeout: 500 * time.Millisecond})
				done <- result{status, err}
			}()
			select {
			case r := <-done:
				// A status that arrived counts even if the rest is endless.
				if tt.status != 0 && (r.status != tt.status || r.err != nil) {
					t.Errorf("status=%d err=%v, want %d", r.status, r.err, tt.status)
				}
				if tt.status == 0 && r.err == nil {
					t.Error("want an error")
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Do did not return: the timeout does not bound it")
			}
		})
	}
}

func TestDoRejectsAndFailsCleanly(t *testing.T) {
	if _, err := Do(context.Background(), Request{URL: mustURL(t, "https://127.0.0.1/")}); !errors.Is(err, ErrUnsupportedScheme) {
		t.Errorf("https: err = %v", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	if _, err := Do(context.Background(), Request{URL: mustURL(t, "http://"+addr+"/"), Timeout: 2 * time.Second}); err == nil {
		t.Error("connection refused: want an error")
	}
	// A cancelled parent context ends a call to a server that never answers.
	hold := make(chan struct{})
	defer close(hold)
	u := rawServer(t, func(c net.Conn) { <-hold; c.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() {
		_, err := Do(ctx, Request{URL: mustURL(t, u), Timeout: time.Hour})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("cancellation did not end the call")
	}
}
