package store

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// maxSocketPath is the longest unix socket path every supported kernel
// takes (Linux allows 107 bytes, macOS 103).
const maxSocketPath = 100

// tempSocketPrefix names socket directories made in $TMPDIR.
const tempSocketPrefix = "kwetcd"

// staleAfter is how old a $TMPDIR socket directory with no listener must
// be before it is removed: a younger one may belong to a process between
// creating the directory and listening.
const staleAfter = time.Minute

// socketDir returns the directory for the embedded etcd's client socket.
// It is the data directory's "sock" when the socket path fits, so a
// killed process leaves nothing outside its data directory and the next
// start reuses it; otherwise a directory in $TMPDIR, after removing the
// ones dead processes left there.
func socketDir(dataDir string) (string, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", fmt.Errorf("etcd socket dir: %w", err)
	}
	dir := filepath.Join(abs, "sock")
	if len(filepath.Join(dir, "c.sock")) <= maxSocketPath {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("create etcd socket dir: %w", err)
		}
		if err := clearSocket(filepath.Join(dir, "c.sock")); err != nil {
			return "", fmt.Errorf("embedded etcd in %s: %w", dataDir, err)
		}
		return dir, nil
	}
	removeStaleTempSockets(os.TempDir(), time.Now())
	dir, err = os.MkdirTemp("", tempSocketPrefix)
	if err != nil {
		return "", fmt.Errorf("create etcd socket dir: %w", err)
	}
	return dir, nil
}

// clearSocket removes a socket file left by a process that died without
// closing it, and refuses one a live process still listens on: that
// process runs on the same data directory.
func clearSocket(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("another process serves this data directory (its socket %s answers)", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale etcd socket: %w", err)
	}
	return nil
}

// removeStaleTempSockets deletes socket directories in tmp that are older
// than staleAfter and whose socket, if any, nobody listens on.
func removeStaleTempSockets(tmp string, now time.Time) {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), tempSocketPrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < staleAfter {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		sock := filepath.Join(dir, "c.sock")
		if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			c.Close()
			continue
		}
		os.RemoveAll(dir)
	}
}
