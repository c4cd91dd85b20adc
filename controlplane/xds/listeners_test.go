package xds

import (
	"fmt"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestListenersFromNodeMetadata(t *testing.T) {
	tests := []struct {
		name string
		md   map[string]any
		want []string
	}{
		{"list", map[string]any{"listeners": []any{"127.0.0.1:6380", "127.0.0.1:6443"}}, []string{"127.0.0.1:6380", "127.0.0.1:6443"}},
		{"comma string, as keyway-proxy sends it", map[string]any{"listeners": "127.0.0.1:6380, 127.0.0.1:7001,"}, []string{"127.0.0.1:6380", "127.0.0.1:7001"}},
		{"none", map[string]any{"version": "dev"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md, err := structpb.NewStruct(tt.md)
			if err != nil {
				t.Fatal(err)
			}
			got := listeners(&core.Node{Metadata: md})
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("listeners = %v, want %v", got, tt.want)
			}
		})
	}
}
