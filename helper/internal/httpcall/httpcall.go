// Package httpcall is a minimal HTTP/1.1 client for the helper's two calls:
// the app's loopback drain endpoint and the pod's original httpGet preStop.
//
// It exists because net/http (and crypto/tls, which it always links) would
// more than double the helper binary, which is copied into every opted-in pod.
// The helper needs one request, one status code, and hard bounds, nothing
// more: no keep-alive, no redirects, no proxies (an HTTP_PROXY in the pod must
// not receive a loopback call), plain http only.
package httpcall

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Header is one request header.
type Header struct{ Name, Value string }

// Request is one call.
type Request struct {
	Method  string
	URL     *url.URL
	Headers []Header
	Timeout time.Duration // whole exchange: connect, write, status and headers, body
	// Dialer, if set, is used to connect (e.g. one that allows loopback only).
	Dialer *net.Dialer
}

const (
	maxHeaderBytes = 64 << 10 // status line plus headers
	maxBodyDrain   = 64 << 10 // body read only so the server sees a complete exchange
)

// ErrUnsupportedScheme is returned for anything but http.
var ErrUnsupportedScheme = errors.New("only http:// URLs are supported")

// Do performs the request and returns the response status code.
func Do(ctx context.Context, r Request) (int, error) {
	if r.URL == nil || r.URL.Scheme != "http" {
		return 0, ErrUnsupportedScheme
	}
	if r.Timeout <= 0 {
		r.Timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()

	hostPort := r.URL.Host
	if r.URL.Port() == "" {
		hostPort = net.JoinHostPort(r.URL.Hostname(), "80")
	}
	d := r.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	conn, err := d.DialContext(ctx, "tcp", hostPort)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	// The deadline bounds every read and write; closing on ctx cancellation
	// also covers a parent context that ends early (SIGTERM).
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if _, err := conn.Write(buildRequest(r)); err != nil {
		return 0, err
	}
	status, err := readResponse(bufio.NewReaderSize(conn, 4096), r.Method)
	if err != nil && ctx.Err() != nil {
		return status, fmt.Errorf("%w (after %s)", ctx.Err(), r.Timeout)
	}
	return status, err
}

func buildRequest(r Request) []byte {
	var b bytes.Buffer
	method := r.Method
	if method == "" {
		method = "GET"
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, r.URL.RequestURI())
	host := r.URL.Host
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, "Host") {
			host = h.Value
		}
	}
	fmt.Fprintf(&b, "Host: %s\r\n", host)
	b.WriteString("User-Agent: ws-drain-helper\r\nConnection: close\r\n")
	if method != "GET" && method != "HEAD" {
		b.WriteString("Content-Length: 0\r\n")
	}
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, "Host") {
			continue
		}
		fmt.Fprintf(&b, "%s: %s\r\n", h.Name, h.Value)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// readResponse reads the status line and headers, then drains a bounded part
// of the body. A status that arrived is returned even if the body fails.
func readResponse(br *bufio.Reader, method string) (int, error) {
	budget := maxHeaderBytes
	line, err := readHeaderLine(br, &budget)
	if err != nil {
		return 0, fmt.Errorf("reading status line: %w", err)
	}
	// "HTTP/1.1 200 OK"
	proto, rest, _ := strings.Cut(line, " ")
	codeStr, _, _ := strings.Cut(rest, " ")
	code, cerr := strconv.Atoi(codeStr)
	if !strings.HasPrefix(proto, "HTTP/1.") || cerr != nil || code < 100 || code > 999 {
		return 0, fmt.Errorf("malformed status line %q", truncate(line, 80))
	}
	contentLength := int64(-1)
	for {
		h, err := readHeaderLine(br, &budget)
		if err != nil {
			return code, nil // status is what matters; a cut-off header block is not worth failing for
		}
		if h == "" {
			break
		}
		name, value, _ := strings.Cut(h, ":")
		if strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			if n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64); err == nil && n >= 0 {
				contentLength = n
			}
		}
	}
	if method == "HEAD" || code == 204 || code == 304 || (code >= 100 && code < 200) {
		return code, nil
	}
	limit := int64(maxBodyDrain)
	if contentLength >= 0 && contentLength < limit {
		limit = contentLength
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(br, limit))
	return code, nil
}

func readHeaderLine(br *bufio.Reader, budget *int) (string, error) {
	line, err := br.ReadSlice('\n')
	*budget -= len(line)
	if errors.Is(err, bufio.ErrBufferFull) || *budget < 0 {
		return "", errors.New("response header too large")
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
