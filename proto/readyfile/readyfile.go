// Package readyfile tells a parent process where a Keyway program
// listens. A program given --ready-file binds every listener (ports may
// be 0, for the kernel to choose), then writes one JSON object of flag
// name to bound address there; the parent polls for the file instead of
// guessing a free port and hoping no other process takes it first.
package readyfile

import (
	"encoding/json"
	"fmt"
	"os"
)

// Write writes addrs (flag name -> bound address) to path as a JSON
// object. It writes path+".tmp" and renames it over path, so a reader
// polling for path sees either nothing or the whole file.
func Write(path string, addrs map[string]string) error {
	b, err := json.Marshal(addrs)
	if err != nil {
		return fmt.Errorf("ready file %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("ready file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("ready file: %w", err)
	}
	return nil
}

// Read reads a file Write wrote. Before it is written the error wraps
// os.ErrNotExist, which a poller takes as "not yet".
func Read(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ready file: %w", err)
	}
	var addrs map[string]string
	if err := json.Unmarshal(b, &addrs); err != nil {
		return nil, fmt.Errorf("ready file %s: %w", path, err)
	}
	return addrs, nil
}

// Remove deletes the file when the program stops serving, so a file
// that exists names listeners that are, or were until a crash, open.
// A missing file is not an error.
func Remove(path string) error {
	if path == "" {
		return nil
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("ready file: %w", err)
	}
	return nil
}
