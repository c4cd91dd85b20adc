package main

import (
	"io"
	"strings"
	"testing"
)

func TestParseFleetFlagsRefuses(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--replicas", "0"}, "--replicas must be positive"},
		{[]string{"--proxies", "0"}, "--proxies"},
		{[]string{"--conns", "-1"}, "--conns not negative"},
		{[]string{"--replicas", "3", "--restart", "kill"}, "--restart restarts the one replica"},
		{[]string{"--restart", "hup"}, `"hup" is neither term nor kill`},
	} {
		_, err := parseFleetFlags(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want one containing %q", tc.args, err, tc.want)
		}
	}
	cfg, err := parseFleetFlags([]string{"--replicas", "3", "--proxies", "50000"}, io.Discard)
	if err != nil || cfg.replicas != 3 || cfg.proxies != 50000 {
		t.Errorf("--replicas 3 --proxies 50000: %+v, %v", cfg, err)
	}
}
