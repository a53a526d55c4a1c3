// Package jsonlog writes one JSON object per line. kubelet discards a preStop
// hook's output unless the hook fails, so the helper writes to the container's
// main stdout (/proc/1/fd/1, the app's stdout inside the container's PID
// namespace): that is what `kubectl logs` shows and what log collectors ship.
//
// A log write must never stall the drain: the target is opened non-blocking
// (a pipe with no reader fails instead of blocking open), and every write has a
// deadline when the target supports one. If a write fails, the line and all
// later ones go to stderr.
package jsonlog

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Component is the value of the "component" field on every line.
const Component = "ws-drain-helper"

const writeTimeout = time.Second

// Logger writes JSON lines. It is safe for concurrent use.
type Logger struct {
	mu        sync.Mutex
	out       io.Writer
	fallback  io.Writer
	container string
	now       func() time.Time
	// Target names where lines go ("/proc/1/fd/1", "stderr", ...), for the first line.
	Target string
}

// New returns a Logger writing to w.
func New(w io.Writer, container string) *Logger {
	return &Logger{out: w, fallback: os.Stderr, container: container, now: time.Now, Target: "writer"}
}

// OpenTarget picks the output for the helper's lines:
//   - spec "" or "auto": procRoot/1/fd/1 if it can be opened for writing, else stderr;
//   - "stderr" or "stdout": that stream (for running the helper outside a container);
//   - anything else: a file path, created if missing and appended to.
//
// The returned close function releases an opened target.
func OpenTarget(spec, procRoot string) (w io.Writer, name string, closeFn func()) {
	noop := func() {}
	switch spec {
	case "stderr":
		return os.Stderr, "stderr", noop
	case "stdout":
		return os.Stdout, "stdout", noop
	case "", "auto":
		p := filepath.Join(procRoot, "1", "fd", "1")
		if f, err := openNonBlocking(p, 0); err == nil {
			return f, p, func() { f.Close() }
		}
		return os.Stderr, "stderr", noop
	default:
		if f, err := openNonBlocking(spec, os.O_CREATE); err == nil {
			return f, spec, func() { f.Close() }
		}
		return os.Stderr, "stderr", noop
	}
}

// openNonBlocking opens path for appending without ever blocking in open(2):
// O_NONBLOCK makes opening a FIFO without a reader fail with ENXIO. Go then
// puts pipes and character devices on its poller, so writes honour deadlines.
func openNonBlocking(path string, extra int) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|syscall.O_NONBLOCK|extra, 0o644)
}

// Info logs at level info. kv are alternating keys and values.
func (l *Logger) Info(phase, msg string, kv ...any) { l.Log("info", phase, msg, kv...) }

// Warn logs at level warn.
func (l *Logger) Warn(phase, msg string, kv ...any) { l.Log("warn", phase, msg, kv...) }

// Error logs at level error.
func (l *Logger) Error(phase, msg string, kv ...any) { l.Log("error", phase, msg, kv...) }

// Log writes one line with the fixed fields first, in a stable order, so the
// lines read well in `kubectl logs` as well as in a log pipeline.
func (l *Logger) Log(level, phase, msg string, kv ...any) {
	var b bytes.Buffer
	b.WriteString(`{"ts":`)
	writeJSON(&b, l.now().UTC().Format(time.RFC3339Nano))
	b.WriteString(`,"level":`)
	writeJSON(&b, level)
	b.WriteString(`,"component":`)
	writeJSON(&b, Component)
	if l.container != "" {
		b.WriteString(`,"container":`)
		writeJSON(&b, l.container)
	}
	b.WriteString(`,"phase":`)
	writeJSON(&b, phase)
	b.WriteString(`,"msg":`)
	writeJSON(&b, msg)
	for i := 0; i+1 < len(kv); i += 2 {
		key, ok := kv[i].(string)
		if !ok {
			key = fmt.Sprint(kv[i])
		}
		b.WriteByte(',')
		writeJSON(&b, key)
		b.WriteByte(':')
		v := kv[i+1]
		switch tv := v.(type) {
		case error:
			v = tv.Error()
		case time.Duration:
			v = tv.String()
		}
		writeJSON(&b, v)
	}
	b.WriteString("}\n")

	l.mu.Lock()
	defer l.mu.Unlock()
	if d, ok := l.out.(interface{ SetWriteDeadline(time.Time) error }); ok {
		_ = d.SetWriteDeadline(time.Now().Add(writeTimeout))
	}
	if _, err := l.out.Write(b.Bytes()); err != nil && l.out != l.fallback {
		l.out = l.fallback
		l.Target = "stderr"
		_, _ = l.out.Write(b.Bytes())
	}
}

// writeJSON encodes the few value types the helper logs. It is hand-written
// rather than encoding/json because that package costs a tenth of the binary.
func writeJSON(b *bytes.Buffer, v any) {
	switch tv := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		writeString(b, tv)
	case bool:
		b.WriteString(strconv.FormatBool(tv))
	case int:
		b.WriteString(strconv.Itoa(tv))
	case int64:
		b.WriteString(strconv.FormatInt(tv, 10))
	case uint16:
		b.WriteString(strconv.FormatUint(uint64(tv), 10))
	case uint64:
		b.WriteString(strconv.FormatUint(tv, 10))
	case float64:
		b.WriteString(strconv.FormatFloat(tv, 'f', -1, 64))
	case []string:
		writeArray(b, tv, writeString)
	case []int:
		writeArray(b, tv, func(b *bytes.Buffer, e int) { b.WriteString(strconv.Itoa(e)) })
	case []uint16:
		writeArray(b, tv, func(b *bytes.Buffer, e uint16) { b.WriteString(strconv.FormatUint(uint64(e), 10)) })
	default:
		writeString(b, fmt.Sprint(v))
	}
}

// writeArray writes xs as a JSON array, each element with one.
func writeArray[T any](b *bytes.Buffer, xs []T, one func(*bytes.Buffer, T)) {
	b.WriteByte('[')
	for i, e := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		one(b, e)
	}
	b.WriteByte(']')
}

const hexDigits = "0123456789abcdef"

// writeString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD so the
// line stays valid JSON whatever a hook's argv or an error message contains.
func writeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029:
			b.WriteString(`\u`)
			b.WriteByte(hexDigits[(r>>12)&0xf])
			b.WriteByte(hexDigits[(r>>8)&0xf])
			b.WriteByte(hexDigits[(r>>4)&0xf])
			b.WriteByte(hexDigits[r&0xf])
		default:
			b.WriteRune(r) // utf8.RuneError for invalid bytes: written as U+FFFD
		}
	}
	b.WriteByte('"')
}
