package admin_test

import (
	"context"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyway.dev/controlplane/admin"
	"keyway.dev/controlplane/etcdtest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func entries(kv ...string) []*keywayv1.BackupEntry {
	var out []*keywayv1.BackupEntry
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, &keywayv1.BackupEntry{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return out
}

const v1Key = "versions/00000000000000000001"

// Export keeps what a restore needs and leaves out what rebuilds itself;
// Import puts it back under another fleet's prefix.
func TestBackupRoundTrip(t *testing.T) {
	cli := etcdtest.Start(t).Client()
	ctx := context.Background()
	for k, v := range map[string]string{
		"/keyway/a/head": "1", "/keyway/a/active": "1", "/keyway/a/" + v1Key: "\x00record",
		"/keyway/a/flags/web/exp": "30", "/keyway/a/domains/web/pin": "1", "/keyway/a/tokens/name/ops": "t",
		"/keyway/a/status/proxy-1": "s", "/keyway/a/rollout-leader/x": "l", "/keyway/a/telemetry/replicas/r/1/2": "t",
		"/keyway/ab/head": "9",
	} {
		if _, err := cli.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	exp, err := admin.NewBackup(cli, "a").Export(ctx, &keywayv1.ExportRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range exp.GetBackup().GetEntries() {
		keys = append(keys, e.GetKey())
	}
	if got, want := strings.Join(keys, " "), "active domains/web/pin flags/web/exp head tokens/name/ops "+v1Key; got != want {
		t.Fatalf("exported keys %q, want %q", got, want)
	}
	if exp.GetBackup().GetFleet() != "a" {
		t.Errorf("fleet %q, want a", exp.GetBackup().GetFleet())
	}
	got, err := admin.NewBackup(cli, "b").Import(ctx, &keywayv1.ImportRequest{Backup: exp.GetBackup()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetEntries() != 6 || got.GetHead() != 1 || got.GetActive() != 1 {
		t.Errorf("import = %v, want 6 entries, head 1, active 1", got)
	}
	r, err := cli.Get(ctx, "/keyway/b/"+v1Key)
	if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "\x00record" {
		t.Fatalf("restored version record = %v, %v; want the exported bytes", r, err)
	}
	_, err = admin.NewBackup(cli, "b").Import(ctx, &keywayv1.ImportRequest{Backup: exp.GetBackup()})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "already has policy versions") {
		t.Errorf("second import: %v; want FailedPrecondition, already has policy versions", err)
	}
}

func TestImportRefusesBadBackups(t *testing.T) {
	cli := etcdtest.Start(t).Client()
	b := admin.NewBackup(cli, "")
	for _, tc := range []struct {
		name    string
		backup  *keywayv1.Backup
		wantErr string
	}{
		{"nil", nil, "holds no keys"},
		{"empty", &keywayv1.Backup{}, "holds no keys"},
		{"no head", &keywayv1.Backup{Entries: entries("active", "1", v1Key, "r")}, "no head version"},
		{"bad head", &keywayv1.Backup{Entries: entries("head", "one", v1Key, "r")}, `backup head "one" is not a version number`},
		{"bad active", &keywayv1.Backup{Entries: entries("head", "1", "active", "-1", v1Key, "r")}, `backup active "-1" is not a version number`},
		{"active after head", &keywayv1.Backup{Entries: entries("head", "1", "active", "2", v1Key, "r")}, "active version v2 is newer than its head v1"},
		{"head record missing", &keywayv1.Backup{Entries: entries("head", "2", v1Key, "r")}, "lacks the record of its head version v2"},
		{"foreign key", &keywayv1.Backup{Entries: entries("head", "1", v1Key, "r", "status/p", "x")}, `backup key "status/p" is not one a backup holds`},
		{"escaping key", &keywayv1.Backup{Entries: entries("head", "1", v1Key, "r", "flags/../../other/head", "x")}, `backup key "flags/../../other/head"`},
		{"duplicate", &keywayv1.Backup{Entries: entries("head", "1", v1Key, "r", v1Key, "s")}, "appears twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Import(context.Background(), &keywayv1.ImportRequest{Backup: tc.backup})
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Import: %v; want InvalidArgument containing %q", err, tc.wantErr)
			}
		})
	}
	r, err := cli.Get(context.Background(), "/keyway/", clientv3.WithPrefix())
	if err != nil || len(r.Kvs) != 0 {
		t.Fatalf("a refused import wrote %v (err %v)", r, err)
	}
}
