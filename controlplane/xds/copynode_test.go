package xds

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestCopyNodeCopiesEveryField fails when Node gains a field copyNode
// does not know.
func TestCopyNodeCopiesEveryField(t *testing.T) {
	n := &keywayv1.Node{
		Id: "p", Peer: "127.0.0.1:1", Connected: true, LastSeen: timestamppb.New(time.Unix(1, 0)),
		Applied:  map[string]string{"Domain": "v1-a"},
		LastNack: &keywayv1.Nack{Type: "Domain", Version: "v2-b", Error: "bad"},
		Qps:      1.5, Connections: 2, PolicyVersion: "v1", Listeners: []string{"127.0.0.1:6379"},
	}
	set := 0
	n.ProtoReflect().Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool { set++; return true })
	if all := n.ProtoReflect().Descriptor().Fields().Len(); set != all {
		t.Fatalf("the fixture sets %d of Node's %d fields; set the new one, and copy it in copyNode", set, all)
	}
	c := copyNode(n)
	if !proto.Equal(c, n) {
		t.Fatalf("copyNode = %v, want %v", c, n)
	}
	c.Applied["Domain"] = "changed"
	if n.Applied["Domain"] != "v1-a" {
		t.Fatal("the copy shares the Applied map, which the tracker updates in place")
	}
}
