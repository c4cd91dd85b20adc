package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/multikey"
	"keyway.dev/dataplane/resp"
)

// serve answers every request of b. The common batch, whose requests all
// go to one node, is handed to that node whole and costs no allocation;
// anything else becomes a job: requests spanning slots are scattered, the
// leaves are grouped by node and the groups sent in parallel, so a slow
// node delays only the replies that wait for it, and redirects and
// transient cluster errors are retried until the request's deadline.
func (c *Client) serve(ctx context.Context, name string, b engine.Batch) {
	if len(b) == 0 {
		return
	}
	// Retries stay within the budget that runs from when the proxy read
	// the batch's oldest request.
	start := time.Now()
	for _, r := range b {
		r.Upstream = name
		if !r.Read.IsZero() && r.Read.Before(start) {
			start = r.Read
		}
	}
	t, err := c.topology(ctx)
	if err != nil {
		for _, r := range b {
			r.Fail(engine.KindProxy, err)
		}
		return
	}
	if tg, ok := c.single(t, b); ok {
		c.send(ctx, name, tg, b)
		if !anyRetryable(b) {
			return
		}
		j := newJob(c, name, start)
		for _, r := range b {
			slot, sh := classify(r)
			if sh == keyless {
				slot = -1
			}
			j.leaves = append(j.leaves, leaf{r: r, t: tg, slot: slot})
		}
		j.settle(ctx)
		j.free()
		return
	}
	if !slices.ContainsFunc(b, isWide) {
		c.serveJob(ctx, name, start, t, b)
		return
	}
	// A cluster-wide command runs after the commands before it and
	// before those after it, as on one server: DBSIZE after a SET counts
	// the key.
	from := 0
	for i, r := range b {
		if !isWide(r) {
			continue
		}
		if from < i {
			c.serveJob(ctx, name, start, t, b[from:i])
		}
		c.serveWide(ctx, name, t, r)
		from = i + 1
	}
	if from < len(b) {
		c.serveJob(ctx, name, start, t, b[from:])
	}
}

// serveJob serves b, which holds no cluster-wide command, on the slow
// path.
func (c *Client) serveJob(ctx context.Context, name string, start time.Time, t *topology, b engine.Batch) {
	j := newJob(c, name, start)
	j.plan(t, b)
	j.dispatch(ctx, j.all())
	j.settle(ctx)
	j.merge()
	j.free()
}

// single reports whether every request of b goes whole to one node, and
// to which.
func (c *Client) single(t *topology, b engine.Batch) (tg target, ok bool) {
	for i, r := range b {
		s, sh := classify(r)
		var next target
		switch sh {
		case spanning:
			return target{}, false
		case keyless:
			if isWide(r) {
				return target{}, false
			}
			next = anyPrimary(t, r)
		default:
			var err error
			if next, err = c.pick(t, s, r, false); err != nil {
				return target{}, false
			}
		}
		if i > 0 && next != tg {
			return target{}, false
		}
		tg = next
	}
	return tg, true
}

// leaf is one request sent to a node as is: a client's request or one
// part of a scattered request.
type leaf struct {
	r    *engine.Request
	t    target
	slot int // -1 for a keyless command
}

// job is a batch on the slow path.
type job struct {
	c         *Client
	name      string
	start     time.Time
	leaves    []leaf
	scattered []*multikey.Scattered
	idx       []int
}

var jobs = sync.Pool{New: func() any { return &job{} }}

func newJob(c *Client, name string, start time.Time) *job {
	j := jobs.Get().(*job)
	j.c, j.name, j.start = c, name, start
	return j
}

func (j *job) free() {
	clear(j.leaves)
	clear(j.scattered)
	*j = job{leaves: j.leaves[:0], scattered: j.scattered[:0], idx: j.idx[:0]}
	jobs.Put(j)
}

// all returns the indices of every leaf.
func (j *job) all() []int {
	j.idx = j.idx[:0]
	for i := range j.leaves {
		j.idx = append(j.idx, i)
	}
	return j.idx
}

// plan turns b into leaves, scattered requests and refusals.
func (j *job) plan(t *topology, b engine.Batch) {
	for _, r := range b {
		slot, sh := classify(r)
		switch sh {
		case keyless:
			j.leaves = append(j.leaves, leaf{r: r, t: anyPrimary(t, r), slot: -1})
		case keyed:
			tg, err := j.c.pick(t, slot, r, false)
			if err != nil {
				r.Fail(engine.KindProxy, err)
				continue
			}
			j.leaves = append(j.leaves, leaf{r: r, t: tg, slot: slot})
		case spanning:
			j.planScatter(t, r)
		}
	}
}

// planScatter scatters a request whose keys span slots as one part per
// slot, or refuses it when that would change its meaning.
func (j *job) planScatter(t *topology, r *engine.Request) {
	plan, err := multikey.NewPlan(&r.Cmd, Slot)
	if errors.Is(err, multikey.ErrNotScatterable) {
		r.Fail(engine.KindRefused, crossSlot(r))
		return
	}
	if err != nil {
		// Malformed (MSET with a key and no value): Redis gives its own
		// error for the command sent whole.
		r.Fail(engine.KindRefused, fmt.Errorf("ERR wrong number of arguments for '%s' command", lower(r.Cmd.Name())))
		return
	}
	s := multikey.Scatter(r, plan)
	for i := range s.Parts {
		sub := &s.Parts[i]
		tg, err := j.c.pick(t, plan.Parts[i].Group, sub, false)
		if err != nil {
			sub.Fail(engine.KindProxy, err)
			continue
		}
		j.leaves = append(j.leaves, leaf{r: sub, t: tg, slot: plan.Parts[i].Group})
	}
	j.scattered = append(j.scattered, s)
}

// group is the leaves bound for one target.
type group struct {
	t target
	b engine.Batch
}

// dispatch sends the leaves idx, one batch per target, in parallel, each
// in the client's order.
func (j *job) dispatch(ctx context.Context, idx []int) {
	var groups []group
	for _, i := range idx {
		l := &j.leaves[i]
		g := 0
		for g < len(groups) && groups[g].t != l.t {
			g++
		}
		if g == len(groups) {
			groups = append(groups, group{t: l.t})
		}
		groups[g].b = append(groups[g].b, l.r)
	}
	if len(groups) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, g := range groups[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j.c.send(ctx, j.name, g.t, g.b)
		}()
	}
	j.c.send(ctx, j.name, groups[0].t, groups[0].b)
	wg.Wait()
}

// merge answers each scattered request from its parts' replies.
func (j *job) merge() {
	for _, s := range j.scattered {
		s.Gather()
	}
}

// prefix holds the ASKING requests sent ahead of others.
type prefix struct {
	reqs []engine.Request
	b    engine.Batch
}

var prefixes = sync.Pool{New: func() any { return &prefix{} }}

var (
	argsAsking = [][]byte{[]byte("ASKING")}
	// specAsking is the table's ASKING without its proxy class: a
	// client's ASKING needs a connection of its own, but the client's
	// own ASKING is written together with the one request it is for.
	specAsking = &resp.Spec{Name: "ASKING", Arity: 1, Flags: resp.FlagFast}
)

// send serves b on tg's node. Under ask every request follows its own
// ASKING; since a node writes a batch in one piece on one connection,
// each ASKING reaches Redis on the same connection right before what it
// is for. (A replica needs no prefix: its connections were made
// READONLY when they opened.)
func (c *Client) send(ctx context.Context, name string, tg target, b engine.Batch) {
	if !tg.ask {
		tg.node.Serve(ctx, name, b)
		return
	}
	p := prefixes.Get().(*prefix)
	if cap(p.reqs) < len(b) {
		p.reqs = make([]engine.Request, len(b))
	}
	p.reqs = p.reqs[:len(b)]
	for i, r := range b {
		q := &p.reqs[i]
		q.Reset()
		q.Cmd.Args = append(q.Cmd.Args, argsAsking...)
		q.Cmd.Spec = specAsking
		p.b = append(p.b, q, r)
	}
	tg.node.Serve(ctx, name, p.b)
	clear(p.b)
	p.b = p.b[:0]
	prefixes.Put(p)
}

func lower(s string) string {
	b := []byte(s)
	for i, x := range b {
		if x >= 'A' && x <= 'Z' {
			b[i] = x + 'a' - 'A'
		}
	}
	return string(b)
}
