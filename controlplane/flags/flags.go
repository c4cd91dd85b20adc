// Package flags keeps per-domain feature flags in etcd and serves
// FlagService. Every control-plane replica watches the flags and publishes
// them to its proxies as Flag resources, so a change needs no new policy
// version and reaches the fleet as fast as etcd's watch.
package flags

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keyway.dev/controlplane/etcdkeys"
	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// ErrNotFound reports a flag that does not exist.
var ErrNotFound = errors.New("flag not found")

// opTimeout bounds each etcd call so an unreachable etcd fails the request.
const opTimeout = 5 * time.Second

// Store is the fleet's flags in etcd, one key per flag:
// /keyway/<fleet>/flags/<domain>/<flag>. It is safe for concurrent use.
type Store struct {
	cli    *clientv3.Client
	prefix string
	now    func() time.Time
}

// NewStore returns the flags of fleet ("" is store.DefaultFleet) in cli.
func NewStore(cli *clientv3.Client, fleet string) *Store {
	return &Store{cli: cli, prefix: etcdkeys.For(fleet).Flags(), now: time.Now}
}

// Name is the Flag resource name of a domain's flag, "<domain>/<flag>".
func Name(domain, flag string) string { return domain + "/" + flag }

// Validate checks a domain and flag name and a percentage.
func Validate(domain, flag string, percent uint32) error {
	switch {
	case domain == "":
		return errors.New("domain is required")
	case flag == "":
		return errors.New("flag name is required")
	case strings.ContainsAny(domain, "/ \t\n"):
		return fmt.Errorf("domain %q may not contain '/' or white space", domain)
	case strings.ContainsAny(flag, "/ \t\n"):
		return fmt.Errorf("flag name %q may not contain '/' or white space", flag)
	case percent > 100:
		return fmt.Errorf("percent %d is over 100", percent)
	}
	return nil
}

func (s *Store) key(domain, flag string) string { return s.prefix + Name(domain, flag) }

// Set stores a flag and returns the new record and the previous
// percentage (nil for a new flag).
func (s *Store) Set(ctx context.Context, domain, flag string, percent uint32, author string) (*keywayv1.FlagRecord, *uint32, error) {
	if err := Validate(domain, flag, percent); err != nil {
		return nil, nil, err
	}
	rec := &keywayv1.FlagRecord{
		Flag:    &keywayv1.Flag{Name: Name(domain, flag), Domain: domain, Flag: flag, Percent: percent},
		Author:  author,
		Updated: timestamppb.New(s.now().UTC()),
	}
	val, err := proto.Marshal(rec)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal flag: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := s.cli.Put(ctx, s.key(domain, flag), string(val), clientv3.WithPrevKV())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: set flag %s: %v", store.ErrUnavailable, Name(domain, flag), err)
	}
	if resp.PrevKv == nil {
		return rec, nil, nil
	}
	prev, err := decode(resp.PrevKv.Value)
	if err != nil {
		return rec, nil, nil // the old value was unreadable; the new one is stored
	}
	p := prev.GetFlag().GetPercent()
	return rec, &p, nil
}

// Delete removes a flag and returns it as it was.
func (s *Store) Delete(ctx context.Context, domain, flag string) (*keywayv1.FlagRecord, error) {
	if err := Validate(domain, flag, 0); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := s.cli.Delete(ctx, s.key(domain, flag), clientv3.WithPrevKV())
	if err != nil {
		return nil, fmt.Errorf("%w: delete flag %s: %v", store.ErrUnavailable, Name(domain, flag), err)
	}
	if len(resp.PrevKvs) == 0 {
		return nil, fmt.Errorf("%s: %w", Name(domain, flag), ErrNotFound)
	}
	return decode(resp.PrevKvs[0].Value)
}

// List returns the flags of domain, or of every domain when it is "",
// sorted by domain and name.
func (s *Store) List(ctx context.Context, domain string) ([]*keywayv1.FlagRecord, error) {
	recs, _, err := s.list(ctx, domain)
	return recs, err
}

func (s *Store) list(ctx context.Context, domain string) ([]*keywayv1.FlagRecord, int64, error) {
	prefix := s.prefix
	if domain != "" {
		prefix += domain + "/"
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("%w: list flags: %v", store.ErrUnavailable, err)
	}
	out := make([]*keywayv1.FlagRecord, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		rec, err := decode(kv.Value)
		if err != nil {
			return nil, 0, fmt.Errorf("flag %s: %w", kv.Key, err)
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetFlag().GetName() < out[j].GetFlag().GetName() })
	return out, resp.Header.Revision, nil
}

func decode(b []byte) (*keywayv1.FlagRecord, error) {
	rec := &keywayv1.FlagRecord{}
	if err := proto.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("decode flag: %w", err)
	}
	return rec, nil
}
