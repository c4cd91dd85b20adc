package auth

import (
	"fmt"
	"os"
	"strings"
)

// ParseCertRoles reads "common-name=role" pairs separated by commas or
// newlines; blank lines and lines starting with '#' are skipped.
func ParseCertRoles(text string) (map[string]Role, error) {
	out := map[string]Role{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, pair := range strings.Split(line, ",") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			cn, name, ok := strings.Cut(pair, "=")
			cn = strings.TrimSpace(cn)
			if !ok || cn == "" {
				return nil, fmt.Errorf("certificate role %q: want common-name=role", pair)
			}
			role, err := ParseRole(strings.TrimSpace(name))
			if err != nil {
				return nil, fmt.Errorf("certificate role for %s: %w", cn, err)
			}
			out[cn] = role
		}
	}
	return out, nil
}

// LoadCertRoles reads ParseCertRoles's format from a file.
func LoadCertRoles(path string) (map[string]Role, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate roles: %w", err)
	}
	roles, err := ParseCertRoles(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return roles, nil
}
