package all

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/durationpb"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/policy/render"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// The renderer and the builders share each kind's rules
// (keyway.dev/policy/kinds). Each case is a policy the renderer refuses
// and the message a hand-made snapshot would carry for the same mistake:
// the proxy must refuse it with the renderer's very sentence.
func TestRenderAndBuildersRefuseAlike(t *testing.T) {
	next := leaf()
	tests := []struct {
		name string
		call string // the engine expression; a is an upstream
		cfg  *keywayv1.Engine
	}{
		{"ttl_jitter NaN share", `ttl_jitter(float("nan"), a)`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_TtlJitter{TtlJitter: &keywayv1.TTLJitter{Share: math.NaN(), Next: next}}}},
		{"ttl_jitter share above one", `ttl_jitter(2, a)`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_TtlJitter{TtlJitter: &keywayv1.TTLJitter{Share: 2, Next: next}}}},
		{"mirror NaN sample", `mirror(a, a, sample = float("nan"))`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Mirror{Mirror: &keywayv1.Mirror{Primary: next, Shadow: next, Sample: math.NaN()}}}},
		{"ratelimit negative rate", `ratelimit(a, ops_per_second = -5)`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Ratelimit{Ratelimit: &keywayv1.RateLimit{OpsPerSecond: -5, Next: next}}}},
		{"ratelimit infinite rate", `ratelimit(a, bytes_per_second = float("inf"))`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Ratelimit{Ratelimit: &keywayv1.RateLimit{BytesPerSecond: math.Inf(1), Next: next}}}},
		{"ratelimit no rate", `ratelimit(a)`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Ratelimit{Ratelimit: &keywayv1.RateLimit{Next: next}}}},
		{"ratelimit max_delay in refuse mode", `ratelimit(a, ops_per_second = 1, max_delay = "1s")`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Ratelimit{Ratelimit: &keywayv1.RateLimit{OpsPerSecond: 1, MaxDelay: durationpb.New(1e9), Next: next}}}},
		{"near_cache over a route", `near_cache(route(default = a), max_bytes = 1024)`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_NearCache{NearCache: &keywayv1.NearCache{MaxBytes: 1024,
				Next: &keywayv1.Engine{Kind: &keywayv1.Engine_Route{Route: &keywayv1.Route{Default: next}}}}}}},
		{"near_cache overlapping prefixes", `near_cache(a, max_bytes = 1024, prefixes = ["u:", "u:1"])`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_NearCache{NearCache: &keywayv1.NearCache{Next: next, MaxBytes: 1024, Prefixes: []string{"u:", "u:1"}}}}},
		{"near_cache admission without window", `near_cache(a, max_bytes = 1024, admit_reads = 3)`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_NearCache{NearCache: &keywayv1.NearCache{Next: next, MaxBytes: 1024, AdmitReads: 3}}}},
		{"split weight below the resolution", `split([(1, a), (100000, a)])`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Split{Split: &keywayv1.Split{Children: []*keywayv1.WeightedEngine{{Weight: 1, Engine: next}, {Weight: 100000, Engine: next}}}}}},
		{"split without children", `split([])`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Split{Split: &keywayv1.Split{}}}},
		{"guard command both allowed and denied", `guard(a, allow_commands = ["GET", "SET"], deny_commands = ["set"])`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Guard{Guard: &keywayv1.Guard{AllowCommands: []string{"GET", "SET"}, DenyCommands: []string{"SET"}, Next: next}}}},
		{"reject of nothing", `reject(a)`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Reject{Reject: &keywayv1.Reject{Next: next}}}},
		{"prefix without a prefix", `prefix("", a)`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Prefix{Prefix: &keywayv1.Prefix{Next: next}}}},
		{"flag without a name", `flag("", a, a)`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Flag{Flag: &keywayv1.FlagSwitch{On: next, Off: next}}}},
		{"failover of one", `failover([a])`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Failover{Failover: &keywayv1.Failover{Children: []*keywayv1.Engine{next}}}}},
		{"transform of nothing", `transform(a)`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Transform{Transform: &keywayv1.Transform{Next: next}}}},
		{"route with an empty prefix", `route({"": a}, default = a)`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Route{Route: &keywayv1.Route{Routes: []*keywayv1.PrefixRoute{{Prefix: "", Engine: next}}, Default: next}}}},
		{"route without default", `route({"a:": a})`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Route{Route: &keywayv1.Route{Routes: []*keywayv1.PrefixRoute{{Prefix: "a:", Engine: next}}}}}},
		{"by_command without default", `by_command(reads = a)`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_ByCommand{ByCommand: &keywayv1.ByCommand{Reads: next}}}},
		{"guard empty key prefix", `guard(a, key_prefixes = ["u:", ""])`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Guard{Guard: &keywayv1.Guard{KeyPrefixes: []string{"u:", ""}, Next: next}}}},
		{"guard allow_scripts without key_prefixes", `guard(a, allow_scripts = True)`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Guard{Guard: &keywayv1.Guard{AllowScripts: true, Next: next}}}},
		{"guard empty channel prefix", `guard(a, channel_prefixes = [""])`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Guard{Guard: &keywayv1.Guard{ChannelPrefixes: []string{""}, Next: next}}}},
		{"reject empty key prefix", `reject(a, key_prefixes = [""])`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Reject{Reject: &keywayv1.Reject{KeyPrefixes: []string{""}, Next: next}}}},
		{"transform empty key prefix", `transform(a, compression = "zstd", key_prefixes = [""])`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Transform{Transform: &keywayv1.Transform{Compression: keywayv1.Transform_COMPRESSION_ZSTD, KeyPrefixes: []string{""}, Next: next}}}},
		{"transform key id twice", `transform(a, keys = [encryption_key("k", env = "K1"), encryption_key("k", env = "K2")], active_key = "k")`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Transform{Transform: &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{{Id: "k", Env: "K1"}, {Id: "k", Env: "K2"}}, ActiveKey: "k", Next: next}}}},
		{"transform several keys without active_key", `transform(a, keys = [encryption_key("k1", env = "K1"), encryption_key("k2", env = "K2")])`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Transform{Transform: &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{{Id: "k1", Env: "K1"}, {Id: "k2", Env: "K2"}}, Next: next}}}},
		{"transform active_key not among keys", `transform(a, keys = [encryption_key("k1", env = "K1")], active_key = "k9")`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Transform{Transform: &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{{Id: "k1", Env: "K1"}}, ActiveKey: "k9", Next: next}}}},
		{"transform active_key without keys", `transform(a, compression = "lz4", active_key = "k9")`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Transform{Transform: &keywayv1.Transform{Compression: keywayv1.Transform_COMPRESSION_LZ4, ActiveKey: "k9", Next: next}}}},
		{"commands without locks", `commands(a)`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Commands{Commands: &keywayv1.Commands{Next: next}}}},
		{"by_command name listed twice", `by_command(default = a, commands = {("GET", "SET"): a, "get": a})`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_ByCommand{ByCommand: &keywayv1.ByCommand{Default: next,
				Commands: []*keywayv1.CommandRoute{{Names: []string{"GET", "SET"}, Engine: next}, {Names: []string{"get"}, Engine: next}}}}}},
		{"encryption key with env and file", `transform(a, keys = [encryption_key("k", env = "K", file = "/k")])`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Transform{Transform: &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{{Id: "k", Env: "K", File: "/k"}}, Next: next}}}},
		{"encryption key without an id", `transform(a, keys = [encryption_key("", env = "K")])`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Transform{Transform: &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{{Env: "K"}}, Next: next}}}},
		{"failover zero cooldown", `failover([a, a], cooldown = "0s")`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Failover{Failover: &keywayv1.Failover{Children: []*keywayv1.Engine{next, next}, Cooldown: durationpb.New(0)}}}},
		{"failover negative cooldown", `failover([a, a], cooldown = "-5s")`,
			&keywayv1.Engine{Kind: &keywayv1.Engine_Failover{Failover: &keywayv1.Failover{Children: []*keywayv1.Engine{next, next}, Cooldown: durationpb.New(-5e9)}}}},
	}
	ups := []*keywayv1.Upstream{{Name: "main", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "a = redis(\"main\", \"127.0.0.1:1\")\ndomain(\"d\", " + tt.call + ")\n"
			_, err := render.Render(context.Background(), &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(src)}}, render.Options{})
			var errs render.Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("render: %v, want exactly one error", err)
			}
			// The renderer prefixes the builtin's name; the rule is the rest.
			_, rule, ok := strings.Cut(errs[0].Msg, ": ")
			if !ok {
				t.Fatalf("render message %q has no kind prefix", errs[0].Msg)
			}
			b := engine.NewBuilder(Registry(), enginetest.NewUpstreams(), "d", ups, nil)
			_, berr := b.Build(tt.cfg)
			b.Release()()
			if berr == nil || !strings.Contains(berr.Error(), rule) {
				t.Fatalf("build refused with %v; render said %q", berr, rule)
			}
		})
	}
}
