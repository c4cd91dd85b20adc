package rollout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"keyway.dev/controlplane/etcdkeys"
	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// ErrNotFound reports a domain that has never had a rollout.
var ErrNotFound = errors.New("no rollout")

// ErrBusy refuses a second unfinished rollout of a domain.
var ErrBusy = errors.New("the domain already has an unfinished rollout")

// errNoChange tells Update that fn decided to write nothing.
var errNoChange = errors.New("no change")

const opTimeout = 5 * time.Second

// Store keeps rollouts and pins in etcd under the fleet's prefix:
//
//	/keyway/<fleet>/domains/<domain>/rollouts/<n>  one record per rollout, n zero-padded
//	/keyway/<fleet>/domains/<domain>/pin           the domain's pin, if any
//
// Every write is a compare-and-swap on the record's revision, so the
// controller and operators' actions never overwrite each other.
type Store struct {
	cli  *clientv3.Client
	keys etcdkeys.Fleet
	now  func() time.Time
}

// NewStore returns the rollouts of fleet ("" is store.DefaultFleet).
func NewStore(cli *clientv3.Client, fleet string) *Store {
	// A pin is written in one transaction with a check that the active
	// pointer still holds the base version.
	return &Store{cli: cli, keys: etcdkeys.For(fleet), now: time.Now}
}

func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, opTimeout)
}

func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s: %v", store.ErrUnavailable, what, err)
}

// latest returns domain's newest rollout, its key and its mod revision,
// or nils when it has none.
func (s *Store) latest(ctx context.Context, domain string) (*keywayv1.Rollout, string, int64, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.keys.Rollouts(domain), clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(1))
	if err != nil {
		return nil, "", 0, unavailable("read rollout of "+domain, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, "", 0, nil
	}
	kv := resp.Kvs[0]
	r, err := decodeRollout(kv.Value)
	if err != nil {
		return nil, "", 0, err
	}
	return r, string(kv.Key), kv.ModRevision, nil
}

// Latest returns domain's current or newest rollout, or ErrNotFound.
func (s *Store) Latest(ctx context.Context, domain string) (*keywayv1.Rollout, error) {
	r, _, _, err := s.latest(ctx, domain)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("%s: %w", domain, ErrNotFound)
	}
	return r, nil
}

// Create stores a new running rollout for p, refusing with ErrBusy while
// the domain has an unfinished one.
func (s *Store) Create(ctx context.Context, p Plan, from uint64) (*keywayv1.Rollout, error) {
	for {
		prev, prevKey, prevRev, err := s.latest(ctx, p.Domain)
		if err != nil {
			return nil, err
		}
		if prev != nil && Unfinished(prev) {
			return nil, fmt.Errorf("%w: %s is %s at %d%%", ErrBusy, prev.GetId(), StateName(prev.GetState()), prev.GetPercent())
		}
		n := uint64(1)
		if prev != nil {
			last, err := strconv.ParseUint(strings.TrimPrefix(prevKey, s.keys.Rollouts(p.Domain)), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("parse rollout key %s: %w", prevKey, err)
			}
			n = last + 1
		}
		r := newRollout(p, from, s.now().UTC())
		r.Id = fmt.Sprintf("%s-%d", p.Domain, n)
		val, err := proto.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("marshal rollout: %w", err)
		}
		key := s.keys.Rollout(p.Domain, n)
		cmp := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		if prev != nil {
			cmp = clientv3.Compare(clientv3.ModRevision(prevKey), "=", prevRev)
		}
		octx, cancel := s.op(ctx)
		resp, err := s.cli.Txn(octx).If(cmp, clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, string(val))).Commit()
		cancel()
		if err != nil {
			return nil, unavailable("store rollout", err)
		}
		if resp.Succeeded {
			return r, nil
		}
		// Someone else changed the domain's rollouts; look again.
	}
}

// Update changes domain's newest rollout with fn, which edits r in place,
// and retries when another writer got there first. When fn returns a pin
// it is written in the same transaction, with the active version as its
// base. fn returning errNoChange writes nothing.
func (s *Store) Update(ctx context.Context, domain string, fn func(r *keywayv1.Rollout) (*keywayv1.Pin, error)) (*keywayv1.Rollout, error) {
	for {
		r, key, rev, err := s.latest(ctx, domain)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, fmt.Errorf("%s: %w", domain, ErrNotFound)
		}
		pin, err := fn(r)
		if errors.Is(err, errNoChange) {
			return r, nil
		}
		if err != nil {
			return nil, err
		}
		val, err := proto.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("marshal rollout: %w", err)
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)}
		ops := []clientv3.Op{clientv3.OpPut(key, string(val))}
		if pin != nil {
			// The pin holds against the version active now; the compare
			// below retries if an activation slips in between.
			if pin.BaseVersion, err = s.Active(ctx); err != nil {
				return nil, err
			}
			pval, err := proto.Marshal(pin)
			if err != nil {
				return nil, fmt.Errorf("marshal pin: %w", err)
			}
			cmps = append(cmps, clientv3.Compare(clientv3.Value(s.keys.Active()), "=", strconv.FormatUint(pin.GetBaseVersion(), 10)))
			ops = append(ops, clientv3.OpPut(s.keys.Pin(domain), string(pval)))
		}
		octx, cancel := s.op(ctx)
		resp, err := s.cli.Txn(octx).If(cmps...).Then(ops...).Commit()
		cancel()
		if err != nil {
			return nil, unavailable("update rollout "+r.GetId(), err)
		}
		if resp.Succeeded {
			return r, nil
		}
	}
}

// Active returns the fleet's active version, 0 when none.
func (s *Store) Active(ctx context.Context) (uint64, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.keys.Active())
	if err != nil {
		return 0, unavailable("read active pointer", err)
	}
	if len(resp.Kvs) == 0 {
		return 0, nil
	}
	v, err := strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse active pointer %q: %w", resp.Kvs[0].Value, err)
	}
	return v, nil
}

// State is every domain's rollouts and pins.
type State struct {
	// Latest is each domain's newest rollout, by domain.
	Latest []*keywayv1.Rollout
	// All is every rollout, by domain, newest first within a domain.
	All  []*keywayv1.Rollout
	Pins []*keywayv1.Pin
}

// Unfinished returns the running and paused rollouts.
func (st State) Unfinished() []*keywayv1.Rollout {
	var out []*keywayv1.Rollout
	for _, r := range st.Latest {
		if Unfinished(r) {
			out = append(out, r)
		}
	}
	return out
}

// Pin returns domain's pin, or nil.
func (st State) Pin(domain string) *keywayv1.Pin {
	for _, p := range st.Pins {
		if p.GetDomain() == domain {
			return p
		}
	}
	return nil
}

// State reads every rollout and pin, with the revision of the read.
func (s *Store) State(ctx context.Context) (State, int64, error) {
	octx, cancel := s.op(ctx)
	defer cancel()
	resp, err := s.cli.Get(octx, s.keys.Domains(), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	if err != nil {
		return State{}, 0, unavailable("read rollouts", err)
	}
	var st State
	seen := map[string]bool{}
	for _, kv := range resp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), s.keys.Domains())
		domain, what, _ := strings.Cut(rest, "/")
		switch {
		case what == "pin":
			pin := &keywayv1.Pin{}
			if err := proto.Unmarshal(kv.Value, pin); err != nil {
				return State{}, 0, fmt.Errorf("decode pin %s: %w", kv.Key, err)
			}
			st.Pins = append(st.Pins, pin)
		case strings.HasPrefix(what, "rollouts/"):
			r, err := decodeRollout(kv.Value)
			if err != nil {
				return State{}, 0, err
			}
			st.All = append(st.All, r)
			if !seen[domain] {
				seen[domain] = true
				st.Latest = append(st.Latest, r)
			}
		}
	}
	byDomain := func(rs []*keywayv1.Rollout) {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].GetDomain() < rs[j].GetDomain() })
	}
	byDomain(st.Latest)
	byDomain(st.All)
	sort.Slice(st.Pins, func(i, j int) bool { return st.Pins[i].GetDomain() < st.Pins[j].GetDomain() })
	return st, resp.Header.Revision, nil
}

func decodeRollout(b []byte) (*keywayv1.Rollout, error) {
	r := &keywayv1.Rollout{}
	if err := proto.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("decode rollout: %w", err)
	}
	return r, nil
}
