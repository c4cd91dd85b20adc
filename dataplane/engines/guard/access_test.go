package guard

import (
	"context"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Each key-access class reaches keys its own way; a domain confined to
// key prefixes must be refused every way out, with an error saying which.
func TestKeyAccessClasses(t *testing.T) {
	confined := &keywayv1.Guard{KeyPrefixes: []string{"a:", "t[1]:"}}
	scripts := &keywayv1.Guard{KeyPrefixes: []string{"a:"}, AllowScripts: true}
	channels := &keywayv1.Guard{KeyPrefixes: []string{"a:"}, ChannelPrefixes: []string{"ach."}}
	whole := &keywayv1.Guard{MaxKeys: 100}
	tests := []struct {
		cfg  *keywayv1.Guard
		line string
		rule Rule
		want string // "" passes
	}{
		// SORT: BY and GET patterns, STORE as SORT parses it.
		{confined, "SORT a:l BY nosort GET # GET a:* GET a:*->f", RuleKeyPrefix, ""},
		{confined, "SORT a:l BY nosort GET b:*", RuleKeyPrefix, `SORT pattern "b:*" reads keys outside`},
		{confined, "SORT a:l BY b:*", RuleKeyPrefix, `pattern "b:*" reads keys`},
		{confined, "SORT_RO a:l GET *", RuleKeyPrefix, `pattern "*" reads keys`},
		{confined, "SORT a:l GET a*:x", RuleKeyPrefix, `pattern "a*:x" reads keys`},
		{confined, "SORT a:l GET nostar", RuleKeyPrefix, ""},
		{confined, "SORT a:l STORE BY STORE b:x", RuleKeyPrefix, `STORE destination "BY" is outside`},
		{confined, "SORT a:l STORE a:d", RuleKeyPrefix, ""},
		{confined, "SORT b:l", RuleKeyPrefix, `key "b:l" is outside`},
		// KEYS and SCAN: the pattern must start with a prefix, literally.
		{confined, "KEYS a:*", RuleKeyPrefix, ""},
		{confined, "KEYS t\\[1]:*", RuleKeyPrefix, ""},
		{confined, "KEYS t[1]:*", RuleKeyPrefix, `pattern "t[1]:*" does not start with one of this domain's key prefixes`},
		{confined, "KEYS *", RuleKeyPrefix, `KEYS pattern "*" does not start`},
		{confined, "KEYS a*", RuleKeyPrefix, `pattern "a*" does not start`},
		{confined, "SCAN 0", RuleKeyPrefix, "SCAN without MATCH lists every domain's keys"},
		{confined, "SCAN 0 COUNT 10", RuleKeyPrefix, "SCAN without MATCH"},
		{confined, "SCAN 0 MATCH a:* COUNT 10", RuleKeyPrefix, ""},
		{confined, "SCAN 0 MATCH a:* MATCH b:*", RuleKeyPrefix, `SCAN pattern "b:*" does not start`},
		// Whole keyspace.
		{confined, "RANDOMKEY", RuleKeyPrefix, `RANDOMKEY is refused in domain "web", which owns only the key prefixes a:, t[1]:: names a key drawn`},
		{confined, "SWAPDB 0 1", RuleKeyPrefix, "SWAPDB is refused"},
		{confined, "FLUSHALL", RuleKeyPrefix, "FLUSHALL is refused"},
		{confined, "DBSIZE", RuleKeyPrefix, "counts every domain's keys"},
		{confined, "MOVE a:x 1", RuleKeyPrefix, "MOVE is refused"},
		{confined, "COPY a:x a:y", RuleKeyPrefix, ""},
		{confined, "COPY a:x a:y DB 1", RuleKeyPrefix, "COPY is refused"},
		{confined, "MIGRATE 127.0.0.1 1 a:x 0 10", RuleKeyPrefix, "MIGRATE is refused"},
		{confined, "CONFIG GET requirepass", RuleKeyPrefix, "CONFIG GET is refused"},
		{confined, "SLOWLOG GET", RuleKeyPrefix, "other clients' commands"},
		{confined, "FUNCTION FLUSH", RuleKeyPrefix, "FUNCTION FLUSH is refused"},
		{confined, "CLUSTER GETKEYSINSLOT 1 10", RuleKeyPrefix, "CLUSTER GETKEYSINSLOT is refused"},
		{whole, "SWAPDB 0 1", RuleKeyPrefix, ""},
		{whole, "SCAN 0", RuleKeyPrefix, ""},
		{whole, "EVAL x 0", RuleScripts, ""},
		// Tracking.
		{confined, "CLIENT TRACKING ON", RuleKeyPrefix, ""},
		{confined, "CLIENT TRACKING ON BCAST", RuleKeyPrefix, "BCAST without PREFIX reports every domain's keys"},
		{confined, "CLIENT TRACKING ON BCAST PREFIX a:x PREFIX b:", RuleKeyPrefix, `PREFIX "b:" is outside`},
		{confined, "CLIENT TRACKING ON BCAST PREFIX a", RuleKeyPrefix, `PREFIX "a" is outside`},
		{confined, "CLIENT TRACKING ON BCAST PREFIX a:", RuleKeyPrefix, ""},
		// Scripts.
		{confined, "EVAL return 0", RuleScripts, `EVAL runs or loads code that can touch keys it does not declare, and domain "web" is confined`},
		{confined, "EVALSHA abc 1 a:x", RuleScripts, "allow_scripts = True"},
		{confined, "FCALL f 1 a:x", RuleScripts, "FCALL runs or loads code"},
		{confined, "FUNCTION LOAD code", RuleScripts, "FUNCTION LOAD runs or loads code"},
		{confined, "SCRIPT LOAD code", RuleScripts, "SCRIPT LOAD runs"},
		{scripts, "EVAL return 1 a:x", RuleScripts, ""},
		{scripts, "EVAL return 1 b:x", RuleKeyPrefix, `key "b:x" is outside`},
		{scripts, "FUNCTION LOAD allow-cross-slot-keys", RuleScripts, "declares allow-cross-slot-keys"},
		{scripts, "FUNCTION FLUSH", RuleKeyPrefix, "FUNCTION FLUSH is refused"},
		// Channels, under channel_prefixes only.
		{confined, "PUBLISH b.chan m", RuleChannelPrefix, ""},
		{channels, "PUBLISH ach.x m", RuleChannelPrefix, ""},
		{channels, "PUBLISH b.chan m", RuleChannelPrefix, `channel "b.chan" is outside this domain's channel prefixes (ach.)`},
		{channels, "SPUBLISH b.chan m", RuleChannelPrefix, `channel "b.chan" is outside`},
		{channels, "SPUBLISH ach.x m", RuleChannelPrefix, ""},
		{channels, "SUBSCRIBE ach.x b.y", RuleChannelPrefix, `channel "b.y" is outside`},
		{channels, "PSUBSCRIBE ach.*", RuleChannelPrefix, ""},
		{channels, "PSUBSCRIBE *", RuleChannelPrefix, `channel pattern "*" does not start`},
		{channels, "PUBSUB CHANNELS", RuleChannelPrefix, "PUBSUB CHANNELS without a pattern lists every domain's channels"},
		{channels, "PUBSUB CHANNELS ach*", RuleChannelPrefix, `channel pattern "ach*" does not start`},
		{channels, "PUBSUB NUMSUB ach.x b.y", RuleChannelPrefix, `channel "b.y"`},
		{channels, "UNSUBSCRIBE", RuleChannelPrefix, ""},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			root, pools := build(t, tt.cfg)
			b := enginetest.Lines(tt.line)
			root.Serve(context.Background(), b)
			got := enginetest.Reply(b[0])
			if tt.want == "" {
				if b[0].Kind() == engine.KindRefused {
					t.Fatalf("refused: %q", got)
				}
				if n := len(pools.Get("main").Lines()); n != 1 {
					t.Fatalf("upstream saw %d requests, want 1", n)
				}
				return
			}
			if b[0].Kind() != engine.KindRefused || !strings.Contains(got, tt.want) {
				t.Fatalf("reply %q (kind %v), want a refusal containing %q", got, b[0].Kind(), tt.want)
			}
			if n := len(pools.Get("main").Lines()); n != 0 {
				t.Fatalf("upstream saw %d requests, want none", n)
			}
			if c := guardIn(t, root).Counts().Get(tt.rule); c != 1 {
				t.Fatalf("count of %s = %d, want 1", tt.rule, c)
			}
		})
	}
}

func TestBuildChannelPrefixes(t *testing.T) {
	pools := enginetest.NewUpstreams()
	b := engine.NewBuilder(registry(), pools, "web", mainUpstream, nil)
	defer b.Release()()
	_, err := b.Build(guardOf(&keywayv1.Guard{ChannelPrefixes: []string{"c.", ""}}))
	if err == nil || !strings.Contains(err.Error(), "channel_prefixes[1]: empty prefix") {
		t.Fatalf("Build error = %v", err)
	}
}
