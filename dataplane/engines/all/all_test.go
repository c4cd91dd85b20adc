package all

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// unbuilt lists the kinds of keyway.v1.Engine no builder handles yet, so
// the gap is visible; remove a kind here when registering it.
var unbuilt = []string{}

func leaf() *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main"}}}
}

// minimal gives the smallest valid config of each registered kind.
var minimal = map[string]*keywayv1.Engine{
	"upstream":   leaf(),
	"route":      {Kind: &keywayv1.Engine_Route{Route: &keywayv1.Route{Default: leaf()}}},
	"reject":     {Kind: &keywayv1.Engine_Reject{Reject: &keywayv1.Reject{Commands: []string{"FLUSHALL"}, Next: leaf()}}},
	"guard":      {Kind: &keywayv1.Engine_Guard{Guard: &keywayv1.Guard{Next: leaf()}}},
	"ratelimit":  {Kind: &keywayv1.Engine_Ratelimit{Ratelimit: &keywayv1.RateLimit{OpsPerSecond: 1, Next: leaf()}}},
	"prefix":     {Kind: &keywayv1.Engine_Prefix{Prefix: &keywayv1.Prefix{Prefix: "p:", Next: leaf()}}},
	"ttl_jitter": {Kind: &keywayv1.Engine_TtlJitter{TtlJitter: &keywayv1.TTLJitter{Share: 0.1, Next: leaf()}}},
	"commands":   {Kind: &keywayv1.Engine_Commands{Commands: &keywayv1.Commands{Locks: leaf(), Next: leaf()}}},
	"by_command": {Kind: &keywayv1.Engine_ByCommand{ByCommand: &keywayv1.ByCommand{Default: leaf()}}},
	"split":      {Kind: &keywayv1.Engine_Split{Split: &keywayv1.Split{Children: []*keywayv1.WeightedEngine{{Weight: 1, Engine: leaf()}}}}},
	"failover":   {Kind: &keywayv1.Engine_Failover{Failover: &keywayv1.Failover{Children: []*keywayv1.Engine{leaf(), leaf()}}}},
	"mirror":     {Kind: &keywayv1.Engine_Mirror{Mirror: &keywayv1.Mirror{Primary: leaf(), Shadow: leaf()}}},
	"flag":       {Kind: &keywayv1.Engine_Flag{Flag: &keywayv1.FlagSwitch{Flag: "f", On: leaf(), Off: leaf()}}},
	"transform":  {Kind: &keywayv1.Engine_Transform{Transform: &keywayv1.Transform{Compression: keywayv1.Transform_COMPRESSION_LZ4, Next: leaf()}}},
	"near_cache": {Kind: &keywayv1.Engine_NearCache{NearCache: &keywayv1.NearCache{Next: leaf(), MaxBytes: 1 << 20}}},
	"max_ttl":    {Kind: &keywayv1.Engine_MaxTtl{MaxTtl: &keywayv1.MaxTTL{Max: durationpb.New(time.Hour), Next: leaf()}}},
}

func TestEveryKindIsBuiltOrListed(t *testing.T) {
	fields := (&keywayv1.Engine{}).ProtoReflect().Descriptor().Oneofs().ByName("kind").Fields()
	var kinds []string
	for i := range fields.Len() {
		kinds = append(kinds, string(fields.Get(i).Name()))
	}
	registered := Registry().Kinds()
	for _, k := range kinds {
		built, listed := slices.Contains(registered, k), slices.Contains(unbuilt, k)
		if built == listed {
			t.Errorf("kind %q: registered=%v, listed as unbuilt=%v; exactly one must hold", k, built, listed)
		}
	}
	for _, k := range unbuilt {
		if fields.ByName(protoreflect.Name(k)) == nil {
			t.Errorf("unbuilt lists %q, which is not a kind of keyway.v1.Engine", k)
		}
	}
}

func TestRegisteredKindsBuild(t *testing.T) {
	reg := Registry()
	ups := []*keywayv1.Upstream{{Name: "main", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}}}
	for _, k := range reg.Kinds() {
		t.Run(k, func(t *testing.T) {
			cfg, ok := minimal[k]
			if !ok {
				t.Fatalf("no minimal config for registered kind %q; add one", k)
			}
			pools := enginetest.NewUpstreams()
			b := engine.NewBuilder(reg, pools, "test", ups, nil)
			root, err := b.Build(cfg)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if l, ok := root.(*engine.Labeled); !ok || l.Kind != k {
				t.Errorf("root = %T, want a Labeled %q", root, k)
			}
			b.Release()()
			if held := pools.Held(); len(held) != 0 {
				t.Errorf("references held after release: %v", held)
			}
		})
	}
}
