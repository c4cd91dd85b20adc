package engine

import (
	"context"
	"reflect"
	"sync"
)

// Dispatch serves each request of b with the engine pick chooses for it. A
// batch whose requests all go to one engine is passed through whole, which
// is the common case and costs no allocation; otherwise b is split into
// sub-batches, in order, served concurrently. pick may answer a request
// itself (Fail) and return nil to drop it from dispatch.
func Dispatch(ctx context.Context, b Batch, pick func(*Request) Engine) {
	if len(b) == 1 {
		if e := pick(b[0]); e != nil {
			e.Serve(ctx, b)
		}
		return
	}
	var first Engine
	all := true
	picks := make([]Engine, len(b))
	for i, r := range b {
		e := pick(r)
		picks[i] = e
		if e == nil {
			all = false
			continue
		}
		if first == nil {
			first = e
		} else if !same(e, first) {
			all = false
		}
	}
	if all && first != nil {
		first.Serve(ctx, b)
		return
	}
	type part struct {
		e Engine
		b Batch
	}
	var parts []part
	for i, e := range picks {
		if e == nil {
			continue
		}
		j := 0
		for j < len(parts) && !same(parts[j].e, e) {
			j++
		}
		if j == len(parts) {
			parts = append(parts, part{e: e})
		}
		parts[j].b = append(parts[j].b, b[i])
	}
	if len(parts) == 1 {
		parts[0].e.Serve(ctx, parts[0].b)
		return
	}
	var wg sync.WaitGroup
	for _, p := range parts[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.e.Serve(ctx, p.b)
		}()
	}
	parts[0].e.Serve(ctx, parts[0].b)
	wg.Wait()
}

// same reports whether a and b are the same engine. Engines from a Builder
// are pointers, but an engine of a func or other uncomparable type would
// make == panic; such engines are treated as distinct, which is still
// correct, only less batched.
func same(a, b Engine) bool {
	ta := reflect.TypeOf(a)
	if ta != reflect.TypeOf(b) || !ta.Comparable() {
		return false
	}
	return a == b
}
