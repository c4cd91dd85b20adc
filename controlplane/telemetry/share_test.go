package telemetry

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keyway.dev/controlplane/store"
)

// replicas starts two aggregators sharing through one real embedded etcd,
// as two keyway-control replicas of a fleet do.
func replicas(t *testing.T) (a, b *Aggregator, e *store.Embedded) {
	t.Helper()
	e, err := store.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait(); _ = e.Close() })
	a, b = New(Options{}), New(Options{})
	for name, agg := range map[string]*Aggregator{"host/127.0.0.1:1": a, "host/127.0.0.1:2": b} {
		wg.Go(func() {
			if err := agg.Share(ctx, e.Client(), "t", name, ShareOptions{Interval: 20 * time.Millisecond}); err != nil {
				t.Errorf("share %s: %v", name, err)
			}
		})
	}
	// Reports that arrive before a replica shares are its own only.
	for _, agg := range []*Aggregator{a, b} {
		waitFor(t, "sharing to start", func() error {
			agg.share.mu.Lock()
			defer agg.share.mu.Unlock()
			if !agg.share.on {
				return fmt.Errorf("not sharing yet")
			}
			return nil
		})
	}
	return a, b, e
}

// byTrack is what agg counts for domain d, by track.
func byTrack(agg *Aggregator, d string) map[string]uint64 {
	out := map[string]uint64{}
	for _, dom := range agg.Top(OneMinute, d).GetDomains() {
		for _, tr := range dom.GetTracks() {
			out[tr.GetTrack()] = tr.GetTraffic().GetRequests()
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestShareBetweenReplicas(t *testing.T) {
	a, b, _ := replicas(t)
	now := time.Now()
	canary := cmd("web", "GET", 10, time.Millisecond, map[string]uint64{"upstream": 3})
	canary.Track = "canary"
	// Proxy p1 reports to replica a, p2 to replica b.
	if err := a.Ingest(rep("p1", 5*time.Second, now, canary)); err != nil {
		t.Fatal(err)
	}
	if err := b.Ingest(rep("p2", 5*time.Second, now, cmd("web", "GET", 5, time.Millisecond, nil))); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"canary": 10, "stable": 5}
	for name, agg := range map[string]*Aggregator{"a": a, "b": b} {
		waitFor(t, "replica "+name+" sees both proxies", func() error {
			if got := byTrack(agg, "web"); fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Errorf("requests by track %v, want %v", got, want)
			}
			return nil
		})
	}
	// The canary's errors reported to a reach b's guards too.
	var errs uint64
	for _, d := range b.Top(OneMinute, "web").GetDomains() {
		for _, tr := range d.GetTracks() {
			if tr.GetTrack() == "canary" {
				errs = tr.GetTraffic().GetErrors()
			}
		}
	}
	if errs != 3 {
		t.Fatalf("replica b counts %d canary errors, want 3", errs)
	}

	// Nothing is counted twice: a report b received from a is not sent
	// back. Once b has a third report from a, a must still count exactly
	// its own plus b's.
	if err := a.Ingest(rep("p1", 5*time.Second, time.Now(), cmd("web", "GET", 7, time.Millisecond, nil))); err != nil {
		t.Fatal(err)
	}
	want = map[string]uint64{"canary": 10, "stable": 12}
	waitFor(t, "replica b sees p1's second report", func() error {
		if got := byTrack(b, "web"); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("requests by track %v, want %v", got, want)
		}
		return nil
	})
	// b has written everything it will (it shares only what proxies
	// sent it); give its writer a few intervals, then a's count is exact.
	time.Sleep(100 * time.Millisecond)
	if got := byTrack(a, "web"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replica a counts %v, want %v: a report came back", got, want)
	}
	// Both replicas see both proxies as nodes.
	for name, agg := range map[string]*Aggregator{"a": a, "b": b} {
		if n := len(agg.Top(OneMinute, "").GetNodes()); n != 2 {
			t.Fatalf("replica %s lists %d nodes, want 2", name, n)
		}
	}
}

func TestShareIgnoresMalformedBatches(t *testing.T) {
	a, b, e := replicas(t)
	if _, err := e.Client().Put(context.Background(), "/keyway/t/telemetry/intruder/1", "\xff\xff garbage"); err != nil {
		t.Fatal(err)
	}
	if err := a.Ingest(rep("p1", time.Second, time.Now(), cmd("web", "SET", 4, time.Millisecond, nil))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica b still ingests after a bad batch", func() error {
		if got := byTrack(b, "web")["stable"]; got != 4 {
			return fmt.Errorf("%d requests, want 4", got)
		}
		return nil
	})
}

func TestFrameRoundTrip(t *testing.T) {
	agg := New(Options{})
	var batch [][]byte
	for i := range 3 {
		b, err := proto.Marshal(rep(fmt.Sprintf("n%d", i), time.Second, time.Now(), cmd("d", "GET", i+1, time.Millisecond, nil)))
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, b)
	}
	if err := agg.ingestFramed(frame(batch)); err != nil {
		t.Fatal(err)
	}
	if got := byTrack(agg, "d")["stable"]; got != 6 {
		t.Fatalf("%d requests, want 6", got)
	}
	if err := agg.ingestFramed(frame(batch)[:5]); err == nil {
		t.Fatal("a truncated batch was accepted")
	}
}
