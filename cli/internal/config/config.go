// Package config finds where the keyway CLI reaches the control plane and
// with which credentials: command-line flags first, then the environment
// (KEYWAY_ADDR, KEYWAY_TOKEN), then a config file (KEYWAY_CONFIG, else
// ~/.config/keyway/config.yaml) and the context chosen in it (--context,
// KEYWAY_CONTEXT, else its current-context).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Environment variables the CLI reads.
const (
	EnvAddr    = "KEYWAY_ADDR"
	EnvToken   = "KEYWAY_TOKEN"
	EnvConfig  = "KEYWAY_CONFIG"
	EnvContext = "KEYWAY_CONTEXT"
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
	// Context names the file's context to use (--context); flags only.
	Context string `yaml:"-"`
}

// File is the config file: settings at the top, and named contexts, one
// per control plane, as kubeconfig has. The chosen context's fields
// replace the top-level ones they set.
type File struct {
	Settings       `yaml:",inline"`
	CurrentContext string              `yaml:"current-context"`
	Contexts       map[string]Settings `yaml:"contexts"`
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

// Load reads the config file and returns the settings of the context
// chosen by name (empty: $KEYWAY_CONTEXT, else the file's
// current-context, else none). A missing default file is no settings. A
// file that holds a token must not be readable by group or others, as
// ssh insists for private keys: a token is a password.
func Load(getenv func(string) string, name string) (Settings, error) {
	f, path, err := ReadFile(getenv)
	if err != nil {
		return Settings{}, err
	}
	name = first(name, getenv(EnvContext), f.CurrentContext)
	s := f.Settings
	if name != "" {
		c, ok := f.Contexts[name]
		if !ok {
			return Settings{}, fmt.Errorf("no context %q in %s (contexts: %s)", name, orNone(path), orNone(strings.Join(f.Names(), ", ")))
		}
		s.Addr, s.Token = first(c.Addr, s.Addr), first(c.Token, s.Token)
		if c.TLS.enabled() {
			s.TLS = c.TLS
		}
	}
	return s, nil
}

// ReadFile reads the config file with its TLS paths made relative to it,
// and returns its path; a missing default file is an empty File.
func ReadFile(getenv func(string) string) (File, string, error) {
	path, explicit := Path(getenv)
	if path == "" {
		return File{}, "", nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return File{}, path, nil
	}
	if err != nil {
		return File{}, path, fmt.Errorf("read config: %w", err)
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return File{}, path, fmt.Errorf("config %s: %w", path, err)
	}
	if f.hasToken() {
		fi, err := os.Stat(path)
		if err != nil {
			return File{}, path, fmt.Errorf("config %s: %w", path, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return File{}, path, fmt.Errorf("config %s holds a token but is readable by others (mode %v); run chmod 600 %s", path, fi.Mode().Perm(), path)
		}
	}
	base := filepath.Dir(path)
	f.Settings.TLS = f.Settings.TLS.relTo(base)
	for n, c := range f.Contexts {
		c.TLS = c.TLS.relTo(base)
		f.Contexts[n] = c
	}
	return f, path, nil
}

// Names are the file's context names, sorted.
func (f File) Names() []string {
	names := make([]string, 0, len(f.Contexts))
	for n := range f.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (f File) hasToken() bool {
	if f.Token != "" {
		return true
	}
	for _, c := range f.Contexts {
		if c.Token != "" {
			return true
		}
	}
	return false
}

func (t TLS) relTo(base string) TLS {
	t.CA, t.Cert, t.Key = relTo(base, t.CA), relTo(base, t.Cert), relTo(base, t.Key)
	return t
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
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
	file, err := Load(getenv, flags.Context)
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

// UseContext makes name the file's current-context, keeping the rest of
// the file (comments included) as it was, and returns the file's path.
func UseContext(getenv func(string) string, name string) (string, error) {
	f, path, err := ReadFile(getenv)
	if err != nil {
		return path, err
	}
	if _, ok := f.Contexts[name]; !ok {
		return path, fmt.Errorf("no context %q in %s (contexts: %s)", name, orNone(path), orNone(strings.Join(f.Names(), ", ")))
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return path, fmt.Errorf("read config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return path, fmt.Errorf("config %s: %w", path, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return path, fmt.Errorf("config %s: not a mapping", path)
	}
	top := doc.Content[0]
	set := false
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "current-context" {
			top.Content[i+1].SetString(name)
			set = true
		}
	}
	if !set {
		k, v := &yaml.Node{}, &yaml.Node{}
		k.SetString("current-context")
		v.SetString(name)
		top.Content = append([]*yaml.Node{k, v}, top.Content...)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return path, fmt.Errorf("config %s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return path, fmt.Errorf("config %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return path, fmt.Errorf("config %s: %w", path, err)
	}
	// Write beside and rename, so a crash never leaves half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), fi.Mode().Perm()); err != nil {
		return path, fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return path, fmt.Errorf("write config: %w", err)
	}
	return path, nil
}
