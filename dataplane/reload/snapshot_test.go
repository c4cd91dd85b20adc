package reload

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"keyway.dev/dataplane/xdsclient"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func anys(t *testing.T, ms ...proto.Message) []*anypb.Any {
	t.Helper()
	var out []*anypb.Any
	for _, m := range ms {
		a, err := anypb.New(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// held fails unless err says the response is held back.
func held(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, xdsclient.ErrHeld) {
		t.Fatalf("err = %v, want the response held", err)
	}
}

func TestSnapshotWaitsForBothTypes(t *testing.T) {
	f := newFixture()
	s := NewSnapshot(f.a, "")
	held(t, s.OnResources(DomainType, "v1", anys(t, domain("a", tree("v1", "main")))))
	if f.cur.Load() != nil {
		t.Fatal("installed a state before the proxy config arrived")
	}
	if err := s.OnResources(ProxyConfigType, "v1", anys(t, proxy)); err != nil {
		t.Fatal(err)
	}
	st := f.cur.Load()
	if st == nil || st.Domains["a"] == nil || st.Proxy.GetIdentity().GetDefaultDomain() != "a" {
		t.Fatalf("state after both types = %+v", st)
	}
	if got := s.Settled(); len(got) != 1 || got[DomainType].Version != "v1" || got[DomainType].Err != nil {
		t.Errorf("settled = %v, want the held domains accepted", got)
	}
	if got := s.Settled(); len(got) != 0 {
		t.Errorf("settled again = %v, want nothing", got)
	}

	// The same resources again (a resend after reconnect) change nothing.
	if err := s.OnResources(DomainType, "v1", anys(t, domain("a", tree("v1", "main")))); err != nil {
		t.Fatal(err)
	}
	if f.cur.Load() != st {
		t.Error("identical resources installed a new state")
	}

	// Domains of the same policy version with another hash (a rollout
	// step) apply on their own.
	if err := s.OnResources(DomainType, "v1-b", anys(t, domain("a", tree("v1", "other")))); err != nil {
		t.Fatal(err)
	}
	if got := f.reaches(t, "a"); got != "other" {
		t.Errorf("after the rollout step domain a reaches %q, want other", got)
	}
}

func TestSnapshotRejectKeepsAccepted(t *testing.T) {
	f := newFixture()
	s := NewSnapshot(f.a, "")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	held(t, s.OnResources(ProxyConfigType, "v1", anys(t, proxy)))
	must(s.OnResources(DomainType, "v1", anys(t, domain("a", tree("v1", "main")))))
	installed := f.cur.Load()

	held(t, s.OnResources(DomainType, "v2", anys(t, domain("a", tree("v2", "nope", "main")))))
	err := s.OnResources(ProxyConfigType, "v2", anys(t, proxy))
	if err == nil || !strings.Contains(err.Error(), `unknown upstream "nope"`) {
		t.Fatalf("bad domain: err = %v", err)
	}
	if got := s.Settled()[DomainType]; got.Version != "v2" || got.Err == nil {
		t.Errorf("held domains settled as %+v, want refused", got)
	}
	if f.cur.Load() != installed || s.Versions()[DomainType] != "v1" || s.Versions()[ProxyConfigType] != "v1" {
		t.Fatalf("rejected resources replaced the state or the version (%v)", s.Versions())
	}

	tests := []struct {
		name    string
		typeURL string
		res     []*anypb.Any
		want    string
	}{
		{"unknown type", "type.googleapis.com/keyway.v1.Nope", nil, "unknown resource type"},
		{"two proxy configs", ProxyConfigType, anys(t, proxy, proxy), "exactly one proxy config"},
		{"wrong message", DomainType, anys(t, proxy), "decode domain resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.OnResources(tt.typeURL, "vx", tt.res); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestSnapshotRefusesVersionWhole is issue 18's repro at the proxy: v2's
// ProxyConfig arrives first and sends every connection to "web", whose
// tree cannot be built. Both halves are refused, and the State, the
// versions and the saved file stay v1's.
func TestSnapshotRefusesVersionWhole(t *testing.T) {
	dir := t.TempDir()
	f := newFixture()
	f.pools.Fail("locked", errors.New(`credentials: environment variable "UNSET" is not set`))
	s := NewSnapshot(f.a, dir)
	held(t, s.OnResources(ProxyConfigType, "v1-p1", anys(t, proxy)))
	if err := s.OnResources(DomainType, "v1-d1", anys(t, domain("a", tree("v1", "main")))); err != nil {
		t.Fatal(err)
	}
	installed := f.cur.Load()
	saved, err := os.ReadFile(filepath.Join(dir, stateFileName))
	if err != nil {
		t.Fatal(err)
	}

	web := &keywayv1.ProxyConfig{Name: "proxy", Identity: &keywayv1.Identity{DefaultDomain: "web"}}
	held(t, s.OnResources(ProxyConfigType, "v2-p2", anys(t, web)))
	if f.cur.Load() != installed || s.Versions()[ProxyConfigType] != "v1-p1" {
		t.Fatal("a held proxy config changed the state or the version")
	}
	err = s.OnResources(DomainType, "v2-d2", anys(t, domain("a", tree("v2", "main")), domain("web", tree("v2", "locked"))))
	if err == nil || !strings.Contains(err.Error(), `"UNSET"`) {
		t.Fatalf("v2 domains: err = %v, want the credentials error", err)
	}
	if got := s.Settled()[ProxyConfigType]; got.Version != "v2-p2" || got.Err == nil {
		t.Errorf("held proxy config settled as %+v, want refused", got)
	}
	if f.cur.Load() != installed {
		t.Error("the refused version replaced the state")
	}
	if v := s.Versions(); v[DomainType] != "v1-d1" || v[ProxyConfigType] != "v1-p1" {
		t.Errorf("versions after the refusal = %v, want v1's", v)
	}
	if now, err := os.ReadFile(filepath.Join(dir, stateFileName)); err != nil || !bytes.Equal(now, saved) {
		t.Errorf("the saved snapshot changed on a refusal (err %v)", err)
	}
	if got := f.reaches(t, "a"); got != "main" {
		t.Errorf("domain a reaches %q, want main", got)
	}

	// A version whose trees build but whose identity names a domain it
	// lacks is refused too, whichever half arrives first.
	held(t, s.OnResources(DomainType, "v3-d3", anys(t, domain("a", tree("v3", "other")))))
	err = s.OnResources(ProxyConfigType, "v3-p3", anys(t, web))
	if err == nil || !strings.Contains(err.Error(), `domain "web", which has no tree`) {
		t.Fatalf("v3: err = %v", err)
	}
	if f.cur.Load() != installed || s.Settled()[DomainType].Err == nil {
		t.Error("v3 was not refused whole")
	}

	// A proxy config whose domains never come changes nothing.
	held(t, s.OnResources(ProxyConfigType, "v4-p4", anys(t, web)))
	if f.cur.Load() != installed || s.Versions()[ProxyConfigType] != "v1-p1" {
		t.Error("an unpaired proxy config was applied")
	}
}

func TestSnapshotFlags(t *testing.T) {
	f := newFixture()
	s := NewSnapshot(f.a, "")
	if err := s.OnResources(FlagType, "f1", anys(t, &keywayv1.Flag{Name: "a/x", Domain: "a", Flag: "x", Percent: 100})); err != nil {
		t.Fatal(err)
	}
	if f.env.FlagPercent("a", "x") != 100 || f.cur.Load() != nil {
		t.Error("flag not applied, or applied with a rebuild")
	}
}

func TestSaveAndLoad(t *testing.T) {
	dir := t.TempDir()
	f := newFixture()
	s := NewSnapshot(f.a, dir)
	for i, step := range []struct {
		t   string
		v   string
		res []*anypb.Any
	}{
		{ProxyConfigType, "v4", anys(t, proxy)},
		{DomainType, "v4", anys(t, domain("a", tree("v4", "main")), domain("b", tree("v4", "other")))},
		{FlagType, "v4", anys(t, &keywayv1.Flag{Name: "a/x", Domain: "a", Flag: "x", Percent: 7})},
	} {
		if err := s.OnResources(step.t, step.v, step.res); err != nil && (i != 0 || !errors.Is(err, xdsclient.ErrHeld)) {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != stateFileName {
		t.Fatalf("state dir holds %v, want only %s (no temp files)", entries, stateFileName)
	}

	// A restarted proxy, control plane unreachable.
	g := newFixture()
	s2 := NewSnapshot(g.a, dir)
	ok, err := s2.Load()
	if err != nil || !ok {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	if got := g.reaches(t, "b"); got != "other" {
		t.Errorf("restored domain b reaches %q", got)
	}
	if g.env.FlagPercent("a", "x") != 7 {
		t.Error("flags not restored")
	}
	want := map[string]string{ProxyConfigType: "v4", DomainType: "v4", FlagType: "v4"}
	if got := s2.Versions(); len(got) != 3 || got[DomainType] != "v4" || got[ProxyConfigType] != "v4" || got[FlagType] != "v4" {
		t.Errorf("restored versions %v, want %v", got, want)
	}
}

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name    string
		content []byte // nil: no file
		wantErr string
	}{
		{"no file", nil, ""},
		{"corrupt", []byte("\x0a\xff\xff\xff"), "truncated record"},
		{"not ours", []byte("hello"), "corrupt record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != nil {
				if err := os.WriteFile(filepath.Join(dir, stateFileName), tt.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f := newFixture()
			ok, err := NewSnapshot(f.a, dir).Load()
			if ok || f.cur.Load() != nil {
				t.Error("a state was installed")
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Load error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestLoadRejected covers a saved snapshot this proxy can no longer build
// (say, a kind a downgrade removed): nothing installs, no version is
// claimed, so the control plane sends everything afresh.
func TestLoadRejected(t *testing.T) {
	dir := t.TempDir()
	f := newFixture()
	s := NewSnapshot(f.a, dir)
	held(t, s.OnResources(ProxyConfigType, "v1", anys(t, proxy)))
	if err := s.OnResources(DomainType, "v1", anys(t, domain("a", tree("v1", "main")))); err != nil {
		t.Fatal(err)
	}
	g := newFixture()
	g.pools.Fail("main", os.ErrPermission)
	s2 := NewSnapshot(g.a, dir)
	ok, err := s2.Load()
	if ok || err == nil || !strings.Contains(err.Error(), `domain "a"`) {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	if v := s2.Versions(); len(v) != 0 {
		t.Errorf("versions claimed after a failed load: %v", v)
	}
}
