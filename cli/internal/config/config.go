// Package config finds where the keyway CLI reaches the control plane and
// with which credentials: command-line flags first, then the environment
// (KEYWAY_ADDR, KEYWAY_TOKEN), then a config file (KEYWAY_CONFIG, else
// ~/.config/keyway/config.yaml).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Environment variables the CLI reads.
const (
	EnvAddr   = "KEYWAY_ADDR"
	EnvToken  = "KEYWAY_TOKEN"
	EnvConfig = "KEYWAY_CONFIG"
)

// TLS locates the PEM files of a TLS connection.
type TLS struct {
	// CA verifies the control plane's certificate; empty means the
	// system's roots.
	CA string `yaml:"ca"`
	// Cert and Key are a client certificate, for control planes that map
	// certificates to roles.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ServerName overrides the name checked in the server certificate.
	ServerName string `yaml:"server_name"`
}

// enabled reports whether any TLS setting is present.
func (t TLS) enabled() bool { return t.CA != "" || t.Cert != "" || t.Key != "" || t.ServerName != "" }

// Settings are where and how to call the control plane.
type Settings struct {
	Addr  string `yaml:"address"`
	Token string `yaml:"token"`
	TLS   TLS    `yaml:"tls"`
}

// Path is the config file to read: $KEYWAY_CONFIG, else
// $XDG_CONFIG_HOME/keyway/config.yaml, else ~/.config/keyway/config.yaml.
// explicit is true for $KEYWAY_CONFIG, which must then exist.
func Path(getenv func(string) string) (path string, explicit bool) {
	if p := getenv(EnvConfig); p != "" {
		return p, true
	}
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "keyway", "config.yaml"), false
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "keyway", "config.yaml"), false
	}
	return "", false
}

// Load reads the config file; a missing default file is no settings. A
// file that holds a token must not be readable by group or others, as
// ssh insists for private keys: a token is a password.
func Load(getenv func(string) string) (Settings, error) {
	path, explicit := Path(getenv)
	if path == "" {
		return Settings{}, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return Settings{}, nil
	}
	if err != nil {
		return Settings{}, fmt.Errorf("read config: %w", err)
	}
	var s Settings
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return Settings{}, fmt.Errorf("config %s: %w", path, err)
	}
	if s.Token != "" {
		fi, err := os.Stat(path)
		if err != nil {
			return Settings{}, fmt.Errorf("config %s: %w", path, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return Settings{}, fmt.Errorf("config %s holds a token but is readable by others (mode %v); run chmod 600 %s", path, fi.Mode().Perm(), path)
		}
	}
	base := filepath.Dir(path)
	s.TLS.CA, s.TLS.Cert, s.TLS.Key = relTo(base, s.TLS.CA), relTo(base, s.TLS.Cert), relTo(base, s.TLS.Key)
	return s, nil
}

// relTo reads a relative path in the config file as relative to it.
func relTo(base, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

// Resolve merges flags (the zero value of a field means "not given"),
// the environment and the config file, in that order of precedence,
// defaulting the address to def.
func Resolve(flags Settings, getenv func(string) string, def string) (Settings, error) {
	file, err := Load(getenv)
	if err != nil {
		return Settings{}, err
	}
	out := Settings{
		Addr:  first(flags.Addr, getenv(EnvAddr), file.Addr, def),
		Token: first(flags.Token, getenv(EnvToken), file.Token),
	}
	// TLS settings travel together: flags replace the file's as a whole,
	// so a --ca on the command line never pairs with a stale file cert.
	out.TLS = file.TLS
	if flags.TLS.enabled() {
		out.TLS = flags.TLS
	}
	return out, nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
