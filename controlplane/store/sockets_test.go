package store

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// leaveSocket binds path and closes the listener without removing the
// file, as a SIGKILLed process leaves it.
func leaveSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
}

// A data directory short enough holds its own socket: a killed process
// leaves nothing in $TMPDIR, and the next start on the same data
// directory clears the dead socket and serves.
func TestSocketInDataDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	data := filepath.Join(tmp, "data")
	if err := os.MkdirAll(filepath.Join(data, "sock"), 0o700); err != nil {
		t.Fatal(err)
	}
	leaveSocket(t, filepath.Join(data, "sock", "c.sock"))

	e, err := StartEmbedded(data)
	if err != nil {
		t.Fatalf("start over a dead socket: %v", err)
	}
	if ep := e.Endpoints()[0]; !strings.Contains(ep, filepath.Join(data, "sock")) {
		t.Errorf("endpoint %s is not in the data directory", ep)
	}
	// A second process on the same data directory is refused while the
	// first serves, without disturbing it.
	if _, err := socketDir(data); err == nil || !strings.Contains(err.Error(), "another process serves this data directory") {
		t.Errorf("second start: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(tmp)
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), tempSocketPrefix) {
			t.Errorf("%s left in $TMPDIR", en.Name())
		}
	}
}

// A data directory too long for a socket path falls back to $TMPDIR, and
// a start there removes what dead processes left, but not a live one's
// nor a young one's.
func TestTempSocketsOfDeadProcessesRemoved(t *testing.T) {
	tmp := t.TempDir()
	old := time.Now().Add(-time.Hour)
	mk := func(name string, live bool, mod time.Time) string {
		d := filepath.Join(tmp, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if live {
			l, err := net.Listen("unix", filepath.Join(d, "c.sock"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		} else {
			leaveSocket(t, filepath.Join(d, "c.sock"))
		}
		if err := os.Chtimes(d, mod, mod); err != nil {
			t.Fatal(err)
		}
		return d
	}
	dead := mk("kwetcd111", false, old)
	live := mk("kwetcd222", true, old)
	young := mk("kwetcd333", false, time.Now())
	other := mk("unrelated", false, old)
	removeStaleTempSockets(tmp, time.Now())
	for d, want := range map[string]bool{dead: false, live: true, young: true, other: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", filepath.Base(d), err == nil, want)
		}
	}

	t.Setenv("TMPDIR", tmp)
	long := filepath.Join(tmp, strings.Repeat("d", maxSocketPath))
	dir, err := socketDir(long)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != tmp || !strings.HasPrefix(filepath.Base(dir), tempSocketPrefix) {
		t.Fatalf("socket dir %s for a long data dir, want one in $TMPDIR", dir)
	}
}
