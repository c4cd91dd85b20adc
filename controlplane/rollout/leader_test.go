package rollout

import (
	"context"
	"sync"
	"testing"
	"time"

	"keyway.dev/controlplane/etcdtest"
)

// Two replicas against one etcd: exactly one leads; when it stops, the
// other takes over.
func TestElectorHandsOver(t *testing.T) {
	e := etcdtest.Start(t)
	var (
		mu      sync.Mutex
		leading = map[string]int{} // replica -> terms begun
		current = 0                // replicas leading right now
		most    = 0
	)
	started := make(chan string, 4)
	lead := func(id string) func(context.Context) {
		return func(ctx context.Context) {
			mu.Lock()
			leading[id]++
			current++
			most = max(most, current)
			mu.Unlock()
			started <- id
			<-ctx.Done()
			mu.Lock()
			current--
			mu.Unlock()
		}
	}
	run := func(id string) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = NewElector(e.Client(), "", id, 2).Run(ctx, lead(id), nil)
		}()
		return func() { cancel(); <-done }
	}
	stopA := run("a")
	first := <-started
	stopB := run("b")
	stops := map[string]func(){"a": stopA, "b": stopB}
	other := map[string]string{"a": "b", "b": "a"}

	select {
	case id := <-started:
		t.Fatalf("%s leads while %s still does", id, first)
	case <-time.After(300 * time.Millisecond):
	}
	stops[first]()
	select {
	case id := <-started:
		if id != other[first] {
			t.Fatalf("%s took over, want %s", id, other[first])
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not take over from %s", other[first], first)
	}
	stops[other[first]]()
	mu.Lock()
	defer mu.Unlock()
	if most != 1 {
		t.Errorf("%d replicas led at once", most)
	}
}
