package procnet

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The real fixtures were captured on a Linux 6.x machine while a Python
// process held: an IPv4 listener on 127.0.0.1:18181 with 3 accepted
// connections, and a dual-stack listener on [::]:18282 with 2 IPv4 clients
// (IPv4-mapped in tcp6) and 1 IPv6 client over ::1. Everything else in the
// tables is other traffic of that machine, as it would be in a busy pod.
const (
	realTCP  = "../../testdata/proc_net_tcp.txt"
	realTCP6 = "../../testdata/proc_net_tcp6.txt"
	header   = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	line4    = "   0: 0100007F:1F90 0200007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 20 4 30 10 -1\n"
	listen4  = "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4241 1 0000000000000000 100 0 0 10 0\n"
)

func readFixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type summary struct {
	stats       Stats
	entries     []Entry
	established map[uint16]int
	listen      map[uint16][]uint64
}

func scanBytes(t *testing.T, data []byte, maxBytes int64) summary {
	t.Helper()
	s := summary{established: map[uint16]int{}, listen: map[uint16][]uint64{}}
	st, err := Scan(bytes.NewReader(data), maxBytes, func(e Entry) {
		s.entries = append(s.entries, e)
		switch e.State {
		case StateEstablished:
			s.established[e.LocalPort]++
		case StateListen:
			s.listen[e.LocalPort] = append(s.listen[e.LocalPort], e.Inode)
		}
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	s.stats = st
	return s
}

func TestScanRealIPv4Table(t *testing.T) {
	data := readFixture(t, realTCP)
	lines := strings.Count(string(data), "\n")
	s := scanBytes(t, data, 0)
	if s.stats.Malformed != 0 || s.stats.Truncated {
		t.Fatalf("stats = %+v, want no malformed lines", s.stats)
	}
	if s.stats.Entries != lines-1 {
		t.Errorf("entries = %d, want %d (every line but the header)", s.stats.Entries, lines-1)
	}
	if got := s.established[18181]; got != 3 {
		t.Errorf("ESTABLISHED on local port 18181 = %d, want 3", got)
	}
	if got := s.listen[18181]; len(got) != 1 || got[0] != 71731 {
		t.Errorf("LISTEN inodes on 18181 = %v, want [71731]", got)
	}
	// Client-side sockets of the dual-stack test (remote port 18282) have an
	// ephemeral local port and must not count as 18282's connections.
	if got := s.established[18282]; got != 0 {
		t.Errorf("ESTABLISHED on local port 18282 in tcp = %d, want 0", got)
	}
	first := s.entries[0]
	if want := netip.MustParseAddr("127.0.0.1"); first.LocalAddr != want || first.LocalPort != 0x9C91 || first.State != StateListen || first.Inode != 67435 {
		t.Errorf("first entry = %+v", first)
	}
}

func TestScanRealIPv6TableWithMappedAddresses(t *testing.T) {
	s := scanBytes(t, readFixture(t, realTCP6), 0)
	if s.stats.Entries != 5 || s.stats.Malformed != 0 {
		t.Fatalf("stats = %+v, want 5 entries", s.stats)
	}
	if got := s.established[18282]; got != 3 {
		t.Errorf("ESTABLISHED on local port 18282 = %d, want 3 (2 IPv4-mapped + 1 ::1)", got)
	}
	if got := s.listen[18282]; len(got) != 1 || got[0] != 71732 {
		t.Errorf("LISTEN inodes on 18282 = %v, want [71732]", got)
	}
	mapped, loop6 := 0, 0
	for _, e := range s.entries {
		if e.State != StateEstablished || e.LocalPort != 18282 {
			continue
		}
		switch {
		case e.LocalAddr.Is4In6() && e.LocalUnmapped() == netip.MustParseAddr("127.0.0.1"):
			mapped++
		case e.LocalAddr == netip.IPv6Loopback():
			loop6++
		default:
			t.Errorf("unexpected local address %s", e.LocalAddr)
		}
	}
	if mapped != 2 || loop6 != 1 {
		t.Errorf("mapped=%d ::1=%d, want 2 and 1", mapped, loop6)
	}
}

func TestScanEdgeCases(t *testing.T) {
	longLine := "   9: " + strings.Repeat("A", 100_000) + "\n"
	tests := []struct {
		name        string
		data        string
		maxBytes    int64
		entries     int
		malformed   int
		truncated   bool
		established int // on port 8080
	}{
		{name: "empty", data: ""},
		{name: "header only", data: header},
		{name: "one established", data: header + line4, entries: 1, established: 1},
		{name: "listen is not established", data: header + listen4, entries: 1},
		{name: "no trailing newline", data: header + strings.TrimSuffix(line4, "\n"), entries: 1, established: 1},
		{name: "CRLF", data: strings.ReplaceAll(header+line4+listen4, "\n", "\r\n"), entries: 2, established: 1},
		{name: "no header", data: line4 + line4, entries: 2, established: 2},
		{name: "blank lines", data: header + "\n\n" + line4 + "   \n", entries: 1, established: 1},
		{name: "garbage line between good ones", data: header + line4 + "hello world\n" + line4, entries: 2, malformed: 1, established: 2},
		{name: "too few fields", data: header + "   0: 0100007F:1F90 0200007F:D431 01\n" + line4, entries: 1, malformed: 1, established: 1},
		{name: "bad hex in address", data: header + strings.Replace(line4, "0100007F:1F90", "01000Z7F:1F90", 1), malformed: 1},
		{name: "port too long", data: header + strings.Replace(line4, "0100007F:1F90", "0100007F:11F90", 1), malformed: 1},
		{name: "address of odd length", data: header + strings.Replace(line4, "0100007F:1F90", "100007F:1F90", 1), malformed: 1},
		{name: "mixed families", data: header + strings.Replace(line4, "0200007F:D431", "0000000000000000FFFF00000200007F:D431", 1), malformed: 1},
		{name: "state not hex", data: header + strings.Replace(line4, " 01 ", " ZZ ", 1), malformed: 1},
		{name: "inode not a number", data: header + strings.Replace(line4, " 4242 ", " -42 ", 1), malformed: 1},
		{name: "slot without colon", data: header + strings.Replace(line4, "   0: ", "   0 ", 1), malformed: 1},
		{name: "very long line", data: header + line4 + longLine + line4, entries: 2, malformed: 1, established: 2},
		{name: "NUL bytes", data: header + "\x00\x00\x00\n" + line4, entries: 1, malformed: 1, established: 1},
		{name: "read cap cuts the table", data: header + line4 + line4 + line4, maxBytes: int64(len(header) + len(line4) + 10), entries: 1, malformed: 1, truncated: true, established: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scanBytes(t, []byte(tt.data), tt.maxBytes)
			if s.stats.Entries != tt.entries || s.stats.Malformed != tt.malformed || s.stats.Truncated != tt.truncated {
				t.Errorf("stats = %+v, want entries=%d malformed=%d truncated=%v", s.stats, tt.entries, tt.malformed, tt.truncated)
			}
			if got := s.established[8080]; got != tt.established {
				t.Errorf("established on 8080 = %d, want %d", got, tt.established)
			}
		})
	}
}

func TestParseLineDecodesAddresses(t *testing.T) {
	e, ok := ParseLine([]byte(line4))
	if !ok {
		t.Fatal("line4 did not parse")
	}
	want := Entry{
		LocalAddr: netip.MustParseAddr("127.0.0.1"), LocalPort: 8080,
		RemoteAddr: netip.MustParseAddr("127.0.0.2"), RemotePort: 0xD431,
		State: StateEstablished, Inode: 4242,
	}
	if e != want {
		t.Errorf("got %+v\nwant %+v", e, want)
	}
	v6 := "   0: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  0 0 77 1\n"
	e, ok = ParseLine([]byte(v6))
	if !ok || e.LocalAddr != netip.MustParseAddr("2001:db8::1") || e.LocalPort != 80 || e.State != StateListen {
		t.Errorf("v6 line: ok=%v %+v", ok, e)
	}
}

func TestScanFileMissing(t *testing.T) {
	_, err := ScanFile(filepath.Join(t.TempDir(), "nope"), 0, func(Entry) {})
	if !os.IsNotExist(err) {
		t.Errorf("err = %v, want not-exist", err)
	}
}

// FuzzParseProcNetTCP feeds arbitrary bytes to the table parser. It must
// never panic, and what Scan reports must agree with ParseLine line by line.
func FuzzParseProcNetTCP(f *testing.F) {
	for _, p := range []string{realTCP6, "../../testdata/proc_net_tcp_header_only.txt"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	real4, err := os.ReadFile(realTCP)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real4[:4096])
	f.Add([]byte(header + line4 + listen4))
	f.Add([]byte(strings.ReplaceAll(header+line4, "\n", "\r\n")))
	f.Add([]byte("   0: 0000000000000000FFFF00000100007F:476A 0000000000000000FFFF00000100007F:8E12 01 0:0 0:0 0 0 0 71742\n"))
	f.Add([]byte("0: :: 01\n\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var calls int
		st, err := Scan(bytes.NewReader(data), 0, func(e Entry) {
			calls++
			if e.LocalAddr.Is4() != e.RemoteAddr.Is4() {
				t.Fatalf("entry mixes address families: %+v", e)
			}
		})
		if err != nil {
			t.Fatalf("Scan returned an error on in-memory input: %v", err)
		}
		if calls != st.Entries {
			t.Fatalf("fn called %d times, Stats.Entries = %d", calls, st.Entries)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		if st.Entries+st.Malformed > lines {
			t.Fatalf("%d entries + %d malformed from %d lines", st.Entries, st.Malformed, lines)
		}
		// Every short line that ParseLine accepts is counted as an entry.
		want := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(l) < MaxLineBytes-1 {
				if _, ok := ParseLine(bytes.TrimRight(l, "\r")); ok {
					want++
				}
			}
		}
		if len(data) <= DefaultMaxBytes && want != st.Entries {
			t.Fatalf("ParseLine accepts %d lines, Scan counted %d", want, st.Entries)
		}
	})
}
