package auth_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"keyway.dev/controlplane/auth"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// keywayMethods is every RPC the keyway.v1 protos declare.
func keywayMethods(t *testing.T) []string {
	t.Helper()
	_ = keywayv1.File_keyway_v1_token_service_proto // links every keyway.v1 file into the registry
	var out []string
	protoregistry.GlobalFiles.RangeFilesByPackage("keyway.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				out = append(out, "/"+string(sd.FullName())+"/"+string(sd.Methods().Get(j).Name()))
			}
		}
		return true
	})
	if len(out) == 0 {
		t.Fatal("no keyway.v1 services registered")
	}
	return out
}

func TestEveryRPCHasARule(t *testing.T) {
	nodes := auth.NodeStreams()
	for _, m := range keywayMethods(t) {
		t.Run(m, func(t *testing.T) {
			_, admin := auth.Methods[m]
			node := slices.Contains(nodes, m)
			if admin == node {
				t.Fatalf("%s: in the role table %v, a node stream %v; want exactly one (add it to auth.Methods)", m, admin, node)
			}
		})
	}
}

func TestRoleTableNamesRealMethods(t *testing.T) {
	known := keywayMethods(t)
	for m, r := range auth.Methods {
		t.Run(m, func(t *testing.T) {
			if !slices.Contains(known, m) {
				t.Fatalf("%s is in the role table but no keyway.v1 service declares it", m)
			}
			if r < auth.Viewer || r > auth.Admin {
				t.Fatalf("%s needs %v, which no caller can hold", m, r)
			}
		})
	}
}

func TestRoleTableDecisions(t *testing.T) {
	tests := []struct {
		method string
		want   auth.Role
	}{
		{keywayv1.PolicyService_ListVersions_FullMethodName, auth.Viewer},
		{keywayv1.FleetService_ListNodes_FullMethodName, auth.Viewer},
		{keywayv1.PolicyService_Validate_FullMethodName, auth.Author},
		{keywayv1.PolicyService_Push_FullMethodName, auth.Author},
		{keywayv1.PolicyService_Activate_FullMethodName, auth.Operator},
		{keywayv1.FlagService_SetFlag_FullMethodName, auth.Operator},
		{keywayv1.RolloutService_StartRollout_FullMethodName, auth.Operator},
		{keywayv1.TokenService_CreateToken_FullMethodName, auth.Admin},
		{keywayv1.TokenService_ListTokens_FullMethodName, auth.Admin},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			if got := auth.Methods[tt.method]; got != tt.want {
				t.Fatalf("needs %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	tests := []struct {
		in      string
		want    auth.Role
		wantErr bool
	}{
		{"viewer", auth.Viewer, false},
		{"Author", auth.Author, false},
		{"operator", auth.Operator, false},
		{"admin", auth.Admin, false},
		{"none", auth.None, true},
		{"root", auth.None, true},
		{"", auth.None, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := auth.ParseRole(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseRole(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseCertRoles(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]auth.Role
		wantErr bool
	}{
		{"pairs", "alice=admin, ci=author", map[string]auth.Role{"alice": auth.Admin, "ci": auth.Author}, false},
		{"lines and comments", "# ops\nalice=operator\n\nbob=viewer\n", map[string]auth.Role{"alice": auth.Operator, "bob": auth.Viewer}, false},
		{"no role", "alice", nil, true},
		{"bad role", "alice=root", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auth.ParseCertRoles(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !mapsEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func mapsEqual(a, b map[string]auth.Role) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
