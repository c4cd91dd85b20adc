package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// BootstrapName names the admin token Bootstrap creates.
const BootstrapName = "bootstrap"

// Bootstrap creates an admin token and writes its secret to path (mode
// 0600) when the fleet has no token yet, so a new installation has a
// first admin without an open window. It reports whether it created one;
// with tokens already present it does nothing, so restarts and other
// replicas leave the file and the tokens alone.
func Bootstrap(ctx context.Context, t *Tokens, path string) (bool, error) {
	some, err := t.Any(ctx)
	if err != nil {
		return false, fmt.Errorf("bootstrap token: %w", err)
	}
	if some {
		return false, nil
	}
	_, secret, err := t.Create(ctx, BootstrapName, Admin, "keyway-control")
	if errors.Is(err, ErrTokenExists) {
		return false, nil // another replica won the race
	}
	if err != nil {
		return false, fmt.Errorf("bootstrap token: %w", err)
	}
	if err := writeSecret(path, secret); err != nil {
		// The token exists but nobody can read it; revoke-by-etcd is the
		// way out, so say so.
		return true, fmt.Errorf("bootstrap token created but not written (delete the fleet's tokens in etcd to retry): %w", err)
	}
	return true, nil
}

// writeSecret writes secret to path atomically, readable only by us.
func writeSecret(path, secret string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".keyway-token-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
