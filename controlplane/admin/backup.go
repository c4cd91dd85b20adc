package admin

import (
	"context"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keyway.dev/controlplane/etcdkeys"
	"keyway.dev/proto/buildinfo"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Backup implements keywayv1.BackupServiceServer: a fleet's own keys out
// of etcd, and into a fleet that has none yet.
//
// It goes through the admin API rather than leaving operators to etcdctl
// so that a backup honours the API's tokens and TLS, needs no etcd
// credentials, and restores into another fleet name or cluster.
type Backup struct {
	keywayv1.UnimplementedBackupServiceServer

	cli   *clientv3.Client
	fleet string
	keys  etcdkeys.Fleet
	now   func() *timestamppb.Timestamp
}

// NewBackup returns the service over fleet's keys in cli.
func NewBackup(cli *clientv3.Client, fleet string) *Backup {
	if fleet == "" {
		fleet = etcdkeys.DefaultFleet
	}
	return &Backup{cli: cli, fleet: fleet, keys: etcdkeys.For(fleet), now: timestamppb.Now}
}

// Register adds the service to gs.
func (b *Backup) Register(gs grpc.ServiceRegistrar) { keywayv1.RegisterBackupServiceServer(gs, b) }

// backedUp reports whether a key, relative to the fleet's prefix, is
// part of a backup. Proxies' status is rewritten by connected proxies,
// the election is held by live replicas and shared telemetry expires:
// restoring any of them would only restore stale leases.
func backedUp(rel string) bool {
	for _, p := range []string{"head", "active", "versions/", "domains/", "flags/", "tokens/", "audit/"} {
		if rel == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(rel, p)) {
			return true
		}
	}
	return false
}

// Export reads every backed-up key of the fleet at one etcd revision, so
// the versions, pointers, rollouts and tokens in it are consistent.
func (b *Backup) Export(ctx context.Context, _ *keywayv1.ExportRequest) (*keywayv1.ExportResponse, error) {
	resp, err := b.cli.Get(ctx, b.keys.Base(), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "read fleet %q from etcd: %v", b.fleet, err)
	}
	out := &keywayv1.Backup{Fleet: b.fleet, Time: b.now(), ServerVersion: buildinfo.Get().Version}
	for _, kv := range resp.Kvs {
		rel := strings.TrimPrefix(string(kv.Key), b.keys.Base())
		if backedUp(rel) {
			out.Entries = append(out.Entries, &keywayv1.BackupEntry{Key: rel, Value: kv.Value})
		}
	}
	return &keywayv1.ExportResponse{Backup: out}, nil
}

// importChunk keeps each transaction under etcd's default limit of 128
// operations per transaction (--max-txn-ops).
const importChunk = 100

// Import writes a backup into a fleet with no policy version. Every
// chunk is conditional on the fleet still having no head, and head is
// written last, alone: an import cut short leaves a fleet that still
// looks empty and may be imported into again.
func (b *Backup) Import(ctx context.Context, req *keywayv1.ImportRequest) (*keywayv1.ImportResponse, error) {
	bk := req.GetBackup()
	if bk == nil || len(bk.GetEntries()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "the backup holds no keys")
	}
	var head, active uint64
	var headEntry *keywayv1.BackupEntry
	rest := make([]*keywayv1.BackupEntry, 0, len(bk.GetEntries()))
	seen := make(map[string]bool, len(bk.GetEntries()))
	for _, e := range bk.GetEntries() {
		k := e.GetKey()
		if !backedUp(k) || strings.Contains(k, "..") {
			return nil, status.Errorf(codes.InvalidArgument, "backup key %q is not one a backup holds (head, active, versions/, domains/, flags/, tokens/, audit/)", k)
		}
		if seen[k] {
			return nil, status.Errorf(codes.InvalidArgument, "backup key %q appears twice", k)
		}
		seen[k] = true
		switch k {
		case "head":
			v, err := strconv.ParseUint(string(e.GetValue()), 10, 64)
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "backup head %q is not a version number", e.GetValue())
			}
			head, headEntry = v, e
			continue
		case "active":
			v, err := strconv.ParseUint(string(e.GetValue()), 10, 64)
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "backup active %q is not a version number", e.GetValue())
			}
			active = v
		}
		rest = append(rest, e)
	}
	if headEntry == nil {
		return nil, status.Error(codes.InvalidArgument, "the backup has no head version: not a backup of a fleet with policies")
	}
	if active > head {
		return nil, status.Errorf(codes.InvalidArgument, "the backup's active version v%d is newer than its head v%d", active, head)
	}
	if !seen[strings.TrimPrefix(b.keys.Version(head), b.keys.Base())] {
		return nil, status.Errorf(codes.InvalidArgument, "the backup lacks the record of its head version v%d", head)
	}
	empty := clientv3.Compare(clientv3.Version(b.keys.Head()), "=", 0)
	put := func(ops []clientv3.Op) error {
		r, err := b.cli.Txn(ctx).If(empty).Then(ops...).Commit()
		if err != nil {
			return status.Errorf(codes.Unavailable, "write the backup to etcd: %v", err)
		}
		if !r.Succeeded {
			return status.Errorf(codes.FailedPrecondition, "fleet %q already has policy versions; import only into a fleet that has none (a new data dir, or a new --fleet)", b.fleet)
		}
		return nil
	}
	for i := 0; i < len(rest); i += importChunk {
		ops := make([]clientv3.Op, 0, importChunk)
		for _, e := range rest[i:min(i+importChunk, len(rest))] {
			ops = append(ops, clientv3.OpPut(b.keys.Base()+e.GetKey(), string(e.GetValue())))
		}
		if err := put(ops); err != nil {
			return nil, err
		}
	}
	if err := put([]clientv3.Op{clientv3.OpPut(b.keys.Head(), string(headEntry.GetValue()))}); err != nil {
		return nil, err
	}
	return &keywayv1.ImportResponse{Entries: int64(len(bk.GetEntries())), Head: head, Active: active}, nil
}
