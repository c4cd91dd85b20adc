package prefix

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
)

// What reaches keys outside key positions gets the prefix too: SORT's
// patterns and the destination SORT really writes, every SCAN MATCH
// (Redis uses the last), CLIENT TRACKING's PREFIXes.
func TestRewritesBeyondKeyPositions(t *testing.T) {
	tests := []struct{ line, sent string }{
		{"SORT l BY nosort GET # GET b:* GET w_*->f", "SORT a:l BY a:nosort GET # GET a:b:* GET a:w_*->f"},
		{"SORT_RO l BY w_* GET *", "SORT_RO a:l BY a:w_* GET a:*"},
		{"SORT l STORE BY STORE b:x", "SORT a:l STORE a:BY STORE a:b:x"},
		{"SORT l LIMIT 0 1 STORE d", "SORT a:l LIMIT 0 1 STORE a:d"},
		{"SORT l NOPE GET b:*", "SORT a:l NOPE GET b:*"}, // Redis refuses it as it is
		{"SCAN 0 MATCH x* MATCH b:*", "SCAN 0 MATCH a:x* MATCH a:b:*"},
		{"SCAN 0 COUNT 5", "SCAN 0 COUNT 5 MATCH a:*"},
		{"CLIENT TRACKING ON BCAST PREFIX x PREFIX y", "CLIENT TRACKING ON BCAST PREFIX a:x PREFIX a:y"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			rec := enginetest.NewRecorder("child", "*0\r\n")
			p := &Prefix{prefix: []byte("a:"), pattern: escapeGlob("a:"), next: rec}
			r := enginetest.Line(tt.line)
			before := strings.Join(lineOf(r), " ")
			engine.Do(context.Background(), p, r)
			if got := rec.Lines(); !reflect.DeepEqual(got, []string{tt.sent}) {
				t.Fatalf("child saw %q, want %q", got, tt.sent)
			}
			if after := strings.Join(lineOf(r), " "); after != before {
				t.Errorf("client's arguments changed: %q -> %q", before, after)
			}
		})
	}
}

func TestRefusesWhatItCannotConfine(t *testing.T) {
	tests := []struct {
		allowScripts bool
		line, want   string // want "" passes
	}{
		{false, "FLUSHALL", `FLUSHALL is refused under prefix "a:", which owns only its own keys`},
		{false, "SWAPDB 0 1", "SWAPDB is refused"},
		{false, "DBSIZE", "counts every domain's keys"},
		{false, "MOVE k 1", "MOVE is refused"},
		{false, "COPY k j DB 1", "COPY is refused"},
		{false, "MIGRATE h 1 k 0 10", "MIGRATE is refused"},
		{false, "FUNCTION FLUSH", "FUNCTION FLUSH is refused"},
		{false, "EVAL s 1 k", "EVAL runs or loads code whose keys cannot be prefixed; the policy allows it with prefix(..., allow_scripts = True)"},
		{false, "FCALL f 1 k", "FCALL runs"},
		{false, "SCRIPT LOAD s", "SCRIPT LOAD runs"},
		{false, "CLIENT TRACKING ON BCAST", "BCAST without PREFIX"},
		{true, "EVAL s 1 k", ""},
		{true, "FUNCTION LOAD allow-cross-slot-keys", "declares allow-cross-slot-keys"},
		{true, "FUNCTION FLUSH", "FUNCTION FLUSH is refused"},
		{false, "COPY k j", ""},
		{false, "CLIENT TRACKING ON", ""},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			rec := enginetest.NewRecorder("child", enginetest.OK)
			p := &Prefix{prefix: []byte("a:"), pattern: escapeGlob("a:"), next: rec, allowScripts: tt.allowScripts}
			b := enginetest.Lines("GET k", tt.line, "GET j")
			p.Serve(context.Background(), b)
			got := enginetest.Reply(b[1])
			sent := rec.Lines()
			if tt.want == "" {
				if b[1].Kind() == engine.KindRefused || len(sent) != 3 {
					t.Fatalf("reply %q, child saw %q; want it passed", got, sent)
				}
				return
			}
			if b[1].Kind() != engine.KindRefused || !strings.HasPrefix(got, "-ERR keyway: ") || !strings.Contains(got, tt.want) {
				t.Fatalf("reply %q, want a refusal containing %q", got, tt.want)
			}
			if !reflect.DeepEqual(sent, []string{"GET a:k", "GET a:j"}) {
				t.Fatalf("child saw %q, want the two GETs only", sent)
			}
		})
	}
	x := engine.Explain(&Prefix{prefix: []byte("a:"), next: enginetest.NewRecorder("child", "")}, enginetest.Line("FLUSHDB"))
	if !strings.Contains(x.Refusal, "FLUSHDB is refused under prefix") {
		t.Errorf("explain refusal = %q", x.Refusal)
	}
}
