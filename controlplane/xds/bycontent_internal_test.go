package xds

import "testing"

func TestRunsProxyConfig(t *testing.T) {
	for _, tt := range []struct {
		name    string
		applied map[string]string
		want    string
		ok      bool
	}{
		{"older version, same content", map[string]string{"Domain": "v6-0123abcd89abcdef", "ProxyConfig": "v5-89abcdef"}, "v6-89abcdef", true},
		{"same version", map[string]string{"Domain": "v6-0123abcd89abcdef", "ProxyConfig": "v6-89abcdef"}, "v6-89abcdef", true},
		{"other content", map[string]string{"Domain": "v6-0123abcd89abcdef", "ProxyConfig": "v5-77777777"}, "", false},
		{"domains from before the feature", map[string]string{"Domain": "v6-0123abcd", "ProxyConfig": "v5-0123abcd"}, "", false},
		{"no ProxyConfig", map[string]string{"Domain": "v6-0123abcd89abcdef"}, "", false},
		{"no Domains", map[string]string{"ProxyConfig": "v5-89abcdef"}, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := runsProxyConfig(tt.applied); got != tt.want || ok != tt.ok {
				t.Errorf("runsProxyConfig(%v) = %q, %v; want %q, %v", tt.applied, got, ok, tt.want, tt.ok)
			}
		})
	}
}
