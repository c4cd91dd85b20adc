package tracking

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"keyway.dev/dataplane/frontend/push"
)

type fakeClient struct{ resp3 bool }

func (f fakeClient) RESP3() bool          { return f.resp3 }
func (f fakeClient) Outbox() *push.Outbox { return nil }
func (f fakeClient) Closed() bool         { return false }

func words(s string) [][]byte {
	var out [][]byte
	for _, f := range strings.Fields(s) {
		out = append(out, []byte(f))
	}
	return out
}

func TestOnReadsOptions(t *testing.T) {
	known := func(id uint64) Client {
		if id == 7 {
			return fakeClient{}
		}
		return nil
	}
	s, refusal := On(fakeClient{resp3: true}, context.Background(), nil, words("CLIENT TRACKING ON BCAST PREFIX a: PREFIX b: NOLOOP"), known)
	if refusal != "" {
		t.Fatal(refusal)
	}
	flags, redirect, prefixes := s.Info()
	if want := []string{"on", "bcast", "noloop"}; !reflect.DeepEqual(flags, want) || redirect != 0 || !reflect.DeepEqual(prefixes, []string{"a:", "b:"}) {
		t.Fatalf("Info = %v %d %v", flags, redirect, prefixes)
	}
	if got := string(s.Probe()[3]); got != "BCAST" {
		t.Fatalf("the command sent to Redis lost an option: %q", s.Probe())
	}
	if !s.Pushes() {
		t.Fatal("a RESP3 client without REDIRECT is not pushed to")
	}
	s, refusal = On(fakeClient{resp3: true}, context.Background(), nil, words("CLIENT TRACKING ON REDIRECT 7 OPTIN"), known)
	if refusal != "" || s.Redirect() != 7 || s.Pushes() {
		t.Fatalf("REDIRECT 7: %q, redirect %d, pushes %v", refusal, s.Redirect(), s.Pushes())
	}
	for cmd, want := range map[string]string{
		"CLIENT TRACKING ON REDIRECT x": "ERR value is not an integer or out of range",
		"CLIENT TRACKING ON REDIRECT 8": "ERR The client ID you want redirect to does not exist",
	} {
		if _, refusal := On(fakeClient{}, context.Background(), nil, words(cmd), known); refusal != want {
			t.Errorf("%s: %q, want %q", cmd, refusal, want)
		}
	}
}

func TestCachingFollowsTheMode(t *testing.T) {
	var off *Session
	if got := off.Caching([]byte("yes")); !strings.Contains(got, "OPTIN mode") {
		t.Fatalf("CACHING YES without tracking: %q", got)
	}
	if off.Redirect() != -1 || off.LoginArgs() != nil || off.Tracks() || off.Pushes() {
		t.Fatal("a nil session tracks")
	}
	if flags, _, _ := off.Info(); !reflect.DeepEqual(flags, []string{"off"}) {
		t.Fatalf("flags %v", flags)
	}
	optin, _ := On(fakeClient{}, context.Background(), nil, words("CLIENT TRACKING ON OPTIN"), nil)
	if got := optin.Caching([]byte("no")); !strings.Contains(got, "OPTOUT mode") {
		t.Fatalf("CACHING NO in OPTIN mode: %q", got)
	}
	if got := optin.Caching([]byte("maybe")); got != "ERR syntax error" {
		t.Fatalf("CACHING maybe: %q", got)
	}
	if got := optin.Caching([]byte("yes")); got != "" {
		t.Fatal(got)
	}
	if flags, _, _ := optin.Info(); !reflect.DeepEqual(flags, []string{"on", "optin", "caching-yes"}) {
		t.Fatalf("flags %v", flags)
	}
}
