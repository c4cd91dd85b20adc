package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Push is one new version as the caller wants it stored.
type Push struct {
	Bundle   *keywayv1.Bundle
	Rendered *keywayv1.Policy
	Author   string
	// AuthorNote is the author the client named, kept when Author is the
	// authenticated identity and the two differ.
	AuthorNote string
	Message    string
	// Parent is the head the caller based the push on; 0 means the fleet
	// has no version yet.
	Parent uint64
	// Force skips the parent check (the push still never overwrites).
	Force bool
	// NoActivate stores the version without making it active.
	NoActivate bool
}

// Pointers are the fleet's head (newest version) and active version; 0
// means none.
type Pointers struct {
	Head   uint64
	Active uint64
}

// Digest returns the hex SHA-256 of the deterministic encoding of p.
func Digest(p *keywayv1.Policy) (string, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("marshal policy: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Push stores a new version numbered head+1 in one transaction that also
// moves the head and, unless p.NoActivate, the active pointer. If the head
// is not p.Parent it returns a *ConflictError and writes nothing.
func (s *Store) Push(ctx context.Context, p Push) (*keywayv1.PolicyVersion, error) {
	digest, err := Digest(p.Rendered)
	if err != nil {
		return nil, err
	}
	for {
		head, headRev, err := s.readHead(ctx)
		if err != nil {
			return nil, err
		}
		if !p.Force && head != p.Parent {
			return nil, &ConflictError{Head: head, Parent: p.Parent}
		}
		rec := &keywayv1.PolicyVersion{
			Version:  head + 1,
			Parent:   head,
			Author:   p.Author,
			Message:  p.Message,
			Created:  timestamppb.New(time.Now().UTC()),
			Bundle:   p.Bundle,
			Rendered: p.Rendered,
			Digest:   digest,
		}
		rec.AuthorNote = p.AuthorNote
		val, err := proto.MarshalOptions{Deterministic: true}.Marshal(rec)
		if err != nil {
			return nil, fmt.Errorf("marshal version record: %w", err)
		}
		ops := []clientv3.Op{
			clientv3.OpPut(s.keys.Version(rec.Version), string(val)),
			clientv3.OpPut(s.keys.Head(), formatVersion(rec.Version)),
		}
		if !p.NoActivate {
			ops = append(ops, clientv3.OpPut(s.keys.Active(), formatVersion(rec.Version)))
		}
		octx, cancel := s.op(ctx)
		// mod_revision 0 means "the key does not exist", which is what an
		// empty fleet's push expects.
		resp, err := s.cli.Txn(octx).
			If(
				clientv3.Compare(clientv3.ModRevision(s.keys.Head()), "=", headRev),
				clientv3.Compare(clientv3.CreateRevision(s.keys.Version(rec.Version)), "=", 0),
			).
			Then(ops...).
			Commit()
		cancel()
		if err != nil {
			return nil, unavailable(ctx, "push version", err)
		}
		if resp.Succeeded {
			return rec, nil
		}
		if !p.Force {
			// The head moved since we read it; report where it is now.
			now, _, err := s.readHead(ctx)
			if err != nil {
				return nil, err
			}
			return nil, &ConflictError{Head: now, Parent: p.Parent}
		}
	}
}

// Activate makes version v the active one (rollback is activating an older
// version) and returns the previously active version.
func (s *Store) Activate(ctx context.Context, v uint64) (previous uint64, err error) {
	octx, cancel := s.op(ctx)
	defer cancel()
	resp, err := s.cli.Txn(octx).
		If(clientv3.Compare(clientv3.CreateRevision(s.keys.Version(v)), ">", 0)).
		Then(clientv3.OpGet(s.keys.Active()), clientv3.OpPut(s.keys.Active(), formatVersion(v))).
		Commit()
	if err != nil {
		return 0, unavailable(ctx, "activate version", err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("activate v%d: %w", v, ErrNotFound)
	}
	if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
		return parseVersion(kvs[0].Value)
	}
	return 0, nil
}

// Get returns version v, or the active version when v is 0.
func (s *Store) Get(ctx context.Context, v uint64) (*keywayv1.PolicyVersion, error) {
	if v == 0 {
		ptr, err := s.Pointers(ctx)
		if err != nil {
			return nil, err
		}
		if ptr.Active == 0 {
			return nil, fmt.Errorf("active version: %w", ErrNotFound)
		}
		v = ptr.Active
	}
	octx, cancel := s.op(ctx)
	defer cancel()
	resp, err := s.cli.Get(octx, s.keys.Version(v))
	if err != nil {
		return nil, unavailable(ctx, "get version", err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("v%d: %w", v, ErrNotFound)
	}
	return decodeVersion(resp.Kvs[0].Value)
}

// List returns up to limit versions (0 means all), newest first, and the
// pointers as of the same etcd revision.
func (s *Store) List(ctx context.Context, limit int) ([]*keywayv1.PolicyVersion, Pointers, error) {
	octx, cancel := s.op(ctx)
	defer cancel()
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend)}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(int64(limit)))
	}
	resp, err := s.cli.Txn(octx).Then(
		clientv3.OpGet(s.keys.Versions(), opts...),
		clientv3.OpGet(s.keys.Head()),
		clientv3.OpGet(s.keys.Active()),
	).Commit()
	if err != nil {
		return nil, Pointers{}, unavailable(ctx, "list versions", err)
	}
	var out []*keywayv1.PolicyVersion
	for _, kv := range resp.Responses[0].GetResponseRange().GetKvs() {
		rec, err := decodeVersion(kv.Value)
		if err != nil {
			return nil, Pointers{}, err
		}
		out = append(out, rec)
	}
	ptr, err := pointersFrom(resp.Responses[1].GetResponseRange(), resp.Responses[2].GetResponseRange())
	return out, ptr, err
}

// Pointers returns the head and active versions.
func (s *Store) Pointers(ctx context.Context) (Pointers, error) {
	octx, cancel := s.op(ctx)
	defer cancel()
	resp, err := s.cli.Txn(octx).Then(clientv3.OpGet(s.keys.Head()), clientv3.OpGet(s.keys.Active())).Commit()
	if err != nil {
		return Pointers{}, unavailable(ctx, "read pointers", err)
	}
	return pointersFrom(resp.Responses[0].GetResponseRange(), resp.Responses[1].GetResponseRange())
}

// readHead returns the head version and the head key's mod_revision (0
// when the fleet has no version).
func (s *Store) readHead(ctx context.Context) (uint64, int64, error) {
	octx, cancel := s.op(ctx)
	defer cancel()
	resp, err := s.cli.Get(octx, s.keys.Head())
	if err != nil {
		return 0, 0, unavailable(ctx, "read head", err)
	}
	if len(resp.Kvs) == 0 {
		return 0, 0, nil
	}
	v, err := parseVersion(resp.Kvs[0].Value)
	return v, resp.Kvs[0].ModRevision, err
}

func pointersFrom(head, active *etcdserverpb.RangeResponse) (Pointers, error) {
	var p Pointers
	var err error
	if p.Head, err = pointerValue(head); err != nil {
		return p, err
	}
	p.Active, err = pointerValue(active)
	return p, err
}

func pointerValue(r *etcdserverpb.RangeResponse) (uint64, error) {
	if len(r.GetKvs()) == 0 {
		return 0, nil
	}
	return parseVersion(r.GetKvs()[0].Value)
}

func decodeVersion(b []byte) (*keywayv1.PolicyVersion, error) {
	rec := &keywayv1.PolicyVersion{}
	if err := proto.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("decode version record: %w", err)
	}
	return rec, nil
}
