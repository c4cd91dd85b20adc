// Package envflag fills a flag.FlagSet the way Keyway's servers take
// their settings: the command line first, then environment variables
// (PREFIX_FLAG_NAME, for example KEYWAY_PROXY_MAX_CLIENTS for
// --max-clients), then a config file of "flag-name: value" lines named by
// --config or PREFIX_CONFIG. Each flag's help names its variable.
package envflag

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// ConfigFlag is the flag that names a config file.
const ConfigFlag = "config"

// Var is the environment variable of flag name under prefix:
// Var("KEYWAY_PROXY", "max-clients") is "KEYWAY_PROXY_MAX_CLIENTS".
func Var(prefix, name string) string {
	return prefix + "_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name))
}

// Register adds --config to fs and appends each flag's environment
// variable to its help. Call it after every other flag is defined.
func Register(fs *flag.FlagSet, prefix string) {
	fs.String(ConfigFlag, "", "read flags from this file of \"flag-name: value\" lines (# starts a comment); the command line and the environment win over it")
	fs.VisitAll(func(f *flag.Flag) {
		f.Usage += " (env " + Var(prefix, f.Name) + ")"
	})
}

// Parse parses args into fs, then sets every flag the command line left
// alone from its environment variable (read with getenv), then from the
// config file. Register must have been called. Errors name their source.
func Parse(fs *flag.FlagSet, args []string, prefix string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		v, ok := lookup(getenv, Var(prefix, f.Name))
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", Var(prefix, f.Name), v, err))
			return
		}
		set[f.Name] = true
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	path := ""
	if f := fs.Lookup(ConfigFlag); f != nil {
		path = f.Value.String()
	}
	if path == "" {
		return nil
	}
	return applyFile(fs, path, set)
}

func lookup(getenv func(string) string, name string) (string, bool) {
	if getenv == nil {
		return os.LookupEnv(name)
	}
	v := getenv(name)
	return v, v != ""
}

// applyFile sets the flags not in set from the file at path.
func applyFile(fs *flag.FlagSet, path string, set map[string]bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("%s:%d: want \"flag-name: value\", got %q", path, n, line)
		}
		name = strings.TrimPrefix(strings.TrimSpace(name), "--")
		value = unquote(strings.TrimSpace(value))
		if name == ConfigFlag {
			return fmt.Errorf("%s:%d: a config file cannot name another one", path, n)
		}
		if fs.Lookup(name) == nil {
			return fmt.Errorf("%s:%d: unknown flag %q", path, n, name)
		}
		if set[name] {
			continue
		}
		if err := fs.Set(name, value); err != nil {
			return fmt.Errorf("%s:%d: %s: %w", path, n, name, err)
		}
	}
	return sc.Err()
}

// unquote strips one pair of matching quotes, as YAML would.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}
