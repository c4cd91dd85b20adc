package cmdtable

import (
	"fmt"
	"strings"

	"keyway.dev/dataplane/resp/internal/probe"
)

// Version returns redis_version from INFO server.
func Version(c *probe.Conn) (string, error) {
	v, err := c.Do("INFO", "server")
	if err != nil {
		return "", fmt.Errorf("info server: %w", err)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("info server: reply is %T, not a string", v)
	}
	for _, line := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, "redis_version:"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("info server: no redis_version")
}

// Generate fetches the table from c and renders table_gen.go.
func Generate(c *probe.Conn) ([]byte, error) {
	version, err := Version(c)
	if err != nil {
		return nil, err
	}
	rows, err := Fetch(c)
	if err != nil {
		return nil, err
	}
	return Render(rows, version)
}
