// Package procnet parses the kernel's TCP socket tables (/proc/net/tcp and
// /proc/net/tcp6). The helper reads them instead of calling netlink because they
// exist in every container (no capabilities, no extra syscalls under seccomp)
// and are scoped to the pod's network namespace, which is exactly the set of
// connections the pod serves.
//
// The parser is defensive by design: the files are read while the kernel keeps
// changing them, and a corrupted or hostile fixture must never crash or stall
// the drain. Malformed lines are counted and skipped, over-long lines are
// discarded, and the total read is capped.
package procnet

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"os"
	"strconv"
)

// TCP states as printed by the kernel (include/net/tcp_states.h).
const (
	StateEstablished uint8 = 0x01
	StateListen      uint8 = 0x0A
)

// MaxLineBytes bounds one line. Real lines are ~150 (tcp) or ~180 (tcp6)
// bytes; anything much longer is not a socket entry.
const MaxLineBytes = 4096

// DefaultMaxBytes caps how much of one table is read: ~200k sockets. A pod
// with more than that is beyond what a 200 ms poll can usefully count, and the
// cap keeps a runaway file from eating the container's memory limit.
const DefaultMaxBytes = 32 << 20

// Entry is one socket line.
type Entry struct {
	LocalAddr  netip.Addr
	LocalPort  uint16
	RemoteAddr netip.Addr
	RemotePort uint16
	State      uint8
	Inode      uint64
}

// Stats says how much of a table was usable.
type Stats struct {
	Entries   int  // well-formed socket lines
	Malformed int  // lines that were not a header and did not parse
	Truncated bool // the read cap was hit; later lines were not seen (a partial count is still used)
}

// LocalUnmapped is the local address with an IPv4-mapped IPv6 address
// (::ffff:a.b.c.d, how dual-stack listeners see IPv4 clients) turned into the
// plain IPv4 address.
func (e Entry) LocalUnmapped() netip.Addr { return e.LocalAddr.Unmap() }

// ScanFile is Scan over a file.
func ScanFile(path string, maxBytes int64, fn func(Entry)) (Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, err
	}
	defer f.Close()
	return Scan(f, maxBytes, fn)
}

// Scan reads a table from r and calls fn for every well-formed entry. It reads
// at most maxBytes (DefaultMaxBytes when <= 0). The returned error is only an
// I/O error from r; bad content is reported through Stats.
func Scan(r io.Reader, maxBytes int64, fn func(Entry)) (Stats, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	lr := &io.LimitedReader{R: r, N: maxBytes + 1}
	br := bufio.NewReaderSize(lr, MaxLineBytes)
	var st Stats
	first := true
	for {
		line, tooLong, err := readLine(br)
		if len(line) > 0 || tooLong {
			switch {
			case tooLong:
				st.Malformed++
			case first && isHeader(line):
				// the column header line
			default:
				if e, ok := ParseLine(line); ok {
					st.Entries++
					fn(e)
				} else if len(bytes.TrimSpace(line)) > 0 {
					st.Malformed++
				}
			}
			first = false
		}
		if err != nil {
			if lr.N <= 0 {
				st.Truncated = true
				return st, nil
			}
			if errors.Is(err, io.EOF) {
				return st, nil
			}
			return st, err
		}
	}
}

// readLine returns the next line without its terminator (LF or CRLF). A line
// longer than the buffer is consumed to its end and reported as tooLong.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	line, err = br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		return nil, true, err
	}
	line = bytes.TrimRight(line, "\r\n")
	return line, false, err
}

func isHeader(line []byte) bool {
	f := bytes.Fields(line)
	return len(f) > 0 && bytes.Equal(f[0], []byte("sl"))
}

// ParseLine parses one socket line:
//
//	0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000  0 12345 ...
//
// Fields are: slot, local, remote, state, tx:rx queue, timer, retransmits,
// uid, timeout, inode. Only the ones the helper needs are validated.
func ParseLine(line []byte) (Entry, bool) {
	var e Entry
	f := bytes.Fields(line)
	if len(f) < 10 {
		return e, false
	}
	slot := f[0]
	if len(slot) < 2 || slot[len(slot)-1] != ':' || !allDigits(slot[:len(slot)-1]) {
		return e, false
	}
	var ok bool
	if e.LocalAddr, e.LocalPort, ok = parseAddrPort(f[1]); !ok {
		return e, false
	}
	if e.RemoteAddr, e.RemotePort, ok = parseAddrPort(f[2]); !ok {
		return e, false
	}
	if e.LocalAddr.Is4() != e.RemoteAddr.Is4() {
		return e, false
	}
	if len(f[3]) != 2 {
		return e, false
	}
	st, err := strconv.ParseUint(string(f[3]), 16, 8)
	if err != nil {
		return e, false
	}
	e.State = uint8(st)
	ino, err := strconv.ParseUint(string(f[9]), 10, 64)
	if err != nil {
		return e, false
	}
	e.Inode = ino
	return e, true
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// parseAddrPort decodes "0100007F:1F90" (IPv4) or a 32-hex-digit IPv6 address.
// The kernel prints each 32-bit word of the address with %08X of its in-memory
// value, so the bytes of each word are in host order; the port is a plain hex
// number.
func parseAddrPort(b []byte) (netip.Addr, uint16, bool) {
	i := bytes.IndexByte(b, ':')
	if i < 0 || len(b)-i-1 != 4 {
		return netip.Addr{}, 0, false
	}
	port, err := strconv.ParseUint(string(b[i+1:]), 16, 16)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	hexAddr := b[:i]
	var raw [16]byte
	switch len(hexAddr) {
	case 8, 32:
	default:
		return netip.Addr{}, 0, false
	}
	n, err := hex.Decode(raw[:], hexAddr)
	if err != nil || n != len(hexAddr)/2 {
		return netip.Addr{}, 0, false
	}
	// Re-order every 32-bit word from host order to network order.
	for w := 0; w < n; w += 4 {
		v := binary.NativeEndian.Uint32(raw[w : w+4])
		binary.BigEndian.PutUint32(raw[w:w+4], v)
	}
	if n == 4 {
		return netip.AddrFrom4([4]byte(raw[:4])), uint16(port), true
	}
	return netip.AddrFrom16(raw), uint16(port), true
}
