package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
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

// SecretPrefix starts every token secret, so a leaked one is easy to
// recognise in logs and by secret scanners.
const SecretPrefix = "kwt_"

// Errors the token store returns; the service maps them to gRPC codes.
var (
	ErrTokenExists   = errors.New("a token with this name exists")
	ErrTokenNotFound = errors.New("no token with this name")
	ErrLastAdmin     = errors.New("this is the last admin token; create another admin token first")
)

var tokenName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,63}$`)

// Tokens is the fleet's bearer tokens in etcd. Each token is stored
// twice, by name (to list and revoke) and by the SHA-256 of its secret (to
// authenticate with one read); both keys change in one transaction. The
// secret itself is never stored. Tokens is safe for concurrent use.
type Tokens struct {
	cli    *clientv3.Client
	byName string
	byHash string
	now    func() time.Time
}

// NewTokens returns the tokens of fleet ("" is store.DefaultFleet) in cli.
func NewTokens(cli *clientv3.Client, fleet string) *Tokens {
	k := etcdkeys.For(fleet)
	return &Tokens{cli: cli, byName: k.TokensByName(), byHash: k.TokensByHash(), now: time.Now}
}

// Hash is the hex SHA-256 of a secret, the form etcd keeps. The secret
// has 256 random bits, so a fast unsalted hash is enough: there is
// nothing to guess.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// newSecret returns SecretPrefix and 32 random bytes, base64url.
func newSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Create stores a new token and returns it with its secret, which exists
// nowhere else afterwards.
func (t *Tokens) Create(ctx context.Context, name string, role Role, creator string) (*keywayv1.TokenInfo, string, error) {
	if !tokenName.MatchString(name) {
		return nil, "", fmt.Errorf("token name %q: use 1-64 letters, digits, '.', '_', '@' or '-'", name)
	}
	if role < Viewer || role > Admin {
		return nil, "", fmt.Errorf("token role %v cannot be given", role)
	}
	secret, err := newSecret()
	if err != nil {
		return nil, "", fmt.Errorf("create token %s: %w", name, err)
	}
	info := &keywayv1.TokenInfo{Name: name, Role: role.String(), Created: timestamppb.New(t.now().UTC()), Creator: creator}
	rec := &keywayv1.StoredToken{Info: info, Sha256: Hash(secret)}
	val, err := proto.Marshal(rec)
	if err != nil {
		return nil, "", fmt.Errorf("encode token %s: %w", name, err)
	}
	nameKey, hashKey := t.byName+name, t.byHash+rec.GetSha256()
	resp, err := t.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(nameKey), "=", 0), clientv3.Compare(clientv3.CreateRevision(hashKey), "=", 0)).
		Then(clientv3.OpPut(nameKey, string(val)), clientv3.OpPut(hashKey, string(val))).
		Commit()
	if err != nil {
		return nil, "", fmt.Errorf("create token %s: %w: %v", name, store.ErrUnavailable, err)
	}
	if !resp.Succeeded {
		return nil, "", fmt.Errorf("create token %s: %w", name, ErrTokenExists)
	}
	return info, secret, nil
}

// Lookup finds the token whose secret this is; nil, nil when none is.
func (t *Tokens) Lookup(ctx context.Context, secret string) (*keywayv1.TokenInfo, error) {
	if !strings.HasPrefix(secret, SecretPrefix) {
		return nil, nil
	}
	resp, err := t.cli.Get(ctx, t.byHash+Hash(secret))
	if err != nil {
		return nil, fmt.Errorf("look up token: %w: %v", store.ErrUnavailable, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	rec, err := decode(resp.Kvs[0].Value)
	if err != nil {
		return nil, err
	}
	return rec.GetInfo(), nil
}

// List returns every token, sorted by name.
func (t *Tokens) List(ctx context.Context) ([]*keywayv1.TokenInfo, error) {
	recs, err := t.list(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*keywayv1.TokenInfo, len(recs))
	for i, r := range recs {
		out[i] = r.GetInfo()
	}
	return out, nil
}

func (t *Tokens) list(ctx context.Context) ([]*keywayv1.StoredToken, error) {
	resp, err := t.cli.Get(ctx, t.byName, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w: %v", store.ErrUnavailable, err)
	}
	out := make([]*keywayv1.StoredToken, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		rec, err := decode(kv.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetInfo().GetName() < out[j].GetInfo().GetName() })
	return out, nil
}

// Any reports whether the fleet has at least one token.
func (t *Tokens) Any(ctx context.Context) (bool, error) {
	resp, err := t.cli.Get(ctx, t.byName, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return false, fmt.Errorf("count tokens: %w: %v", store.ErrUnavailable, err)
	}
	return resp.Count > 0, nil
}

// Revoke deletes the named token. The last admin token cannot be revoked,
// or no one could manage tokens again short of editing etcd.
func (t *Tokens) Revoke(ctx context.Context, name string) (*keywayv1.TokenInfo, error) {
	recs, err := t.list(ctx)
	if err != nil {
		return nil, err
	}
	var victim *keywayv1.StoredToken
	admins := 0
	for _, r := range recs {
		if r.GetInfo().GetName() == name {
			victim = r
		}
		if r.GetInfo().GetRole() == Admin.String() {
			admins++
		}
	}
	if victim == nil {
		return nil, fmt.Errorf("revoke token %s: %w", name, ErrTokenNotFound)
	}
	if victim.GetInfo().GetRole() == Admin.String() && admins == 1 {
		return nil, fmt.Errorf("revoke token %s: %w", name, ErrLastAdmin)
	}
	nameKey := t.byName + name
	resp, err := t.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(nameKey), ">", 0)).
		Then(clientv3.OpDelete(nameKey), clientv3.OpDelete(t.byHash+victim.GetSha256())).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("revoke token %s: %w: %v", name, store.ErrUnavailable, err)
	}
	if !resp.Succeeded {
		return nil, fmt.Errorf("revoke token %s: %w", name, ErrTokenNotFound)
	}
	return victim.GetInfo(), nil
}

func decode(b []byte) (*keywayv1.StoredToken, error) {
	rec := &keywayv1.StoredToken{}
	if err := proto.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("decode stored token: %w", err)
	}
	return rec, nil
}
