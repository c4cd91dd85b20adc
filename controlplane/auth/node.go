package auth

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// nodeStream says how to read the node a proxy's stream message speaks
// for.
type nodeStream struct {
	first func() proto.Message
	node  func(m any) (id string, named bool)
}

// nodeStreams are the streams proxies open, by full method name.
var nodeStreams = map[string]nodeStream{
	ADSMethod: {
		first: func() proto.Message { return &discovery.DiscoveryRequest{} },
		node: func(m any) (string, bool) {
			r, ok := m.(*discovery.DiscoveryRequest)
			return r.GetNode().GetId(), ok && r.GetNode() != nil
		},
	},
	DeltaADSMethod: {
		first: func() proto.Message { return &discovery.DeltaDiscoveryRequest{} },
		node: func(m any) (string, bool) {
			r, ok := m.(*discovery.DeltaDiscoveryRequest)
			return r.GetNode().GetId(), ok && r.GetNode() != nil
		},
	},
	ReportMethod: {
		first: func() proto.Message { return &keywayv1.ReportRequest{} },
		node: func(m any) (string, bool) {
			r, ok := m.(*keywayv1.ReportRequest)
			return r.GetNodeId(), ok
		},
	},
}

// NodeStreams lists the full method names governed by node certificates
// rather than roles.
func NodeStreams() []string {
	out := make([]string, 0, len(nodeStreams))
	for m := range nodeStreams {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// CertNames are the names a certificate vouches for: its common name,
// DNS names and URIs. A proxy may speak for a node whose id is one of
// them.
func CertNames(c *x509.Certificate) []string {
	var names []string
	if c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	names = append(names, c.DNSNames...)
	for _, u := range c.URIs {
		names = append(names, u.String())
	}
	return names
}

// serveNode reads the stream's first message before the handler sees it,
// so a proxy naming another node is refused with PermissionDenied before
// the xDS server (or the telemetry ingest) learns of it; later messages
// that name a node must name the same one.
func (a *Authorizer) serveNode(srv any, ss grpc.ServerStream, ns nodeStream, handler grpc.StreamHandler) error {
	cert := peerCert(ss.Context())
	if cert == nil {
		return status.Error(codes.Unauthenticated, "keyway: a proxy must present a client certificate signed by the control plane's client CA")
	}
	names := CertNames(cert)
	first := ns.first()
	if err := ss.RecvMsg(first); err != nil {
		return err
	}
	id, named := ns.node(first)
	if !named || id == "" {
		return status.Error(codes.InvalidArgument, "keyway: the first message of a proxy stream must name its node")
	}
	if err := checkNode(names, id); err != nil {
		return err
	}
	ctx := WithIdentity(ss.Context(), "cert:"+cert.Subject.CommonName, None)
	return handler(srv, &nodeServerStream{ServerStream: ss, ctx: ctx, first: first, names: names, node: ns.node})
}

// checkNode refuses a node id that none of the certificate's names is.
func checkNode(names []string, id string) error {
	if slices.Contains(names, id) {
		return nil
	}
	return status.Error(codes.PermissionDenied, fmt.Sprintf("keyway: this proxy's certificate names %s, not node %q", describe(names), id))
}

func describe(names []string) string {
	if len(names) == 0 {
		return "no node"
	}
	return "[" + strings.Join(names, " ") + "]"
}

// nodeServerStream replays the first message and checks the rest.
type nodeServerStream struct {
	grpc.ServerStream
	ctx   context.Context
	first proto.Message
	names []string
	node  func(any) (string, bool)
}

func (s *nodeServerStream) Context() context.Context { return s.ctx }

func (s *nodeServerStream) RecvMsg(m any) error {
	if s.first != nil {
		dst, ok := m.(proto.Message)
		if !ok {
			return status.Error(codes.Internal, "keyway: unexpected stream message type")
		}
		proto.Reset(dst)
		proto.Merge(dst, s.first)
		s.first = nil
		return nil
	}
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if id, named := s.node(m); named && id != "" {
		return checkNode(s.names, id)
	}
	return nil
}
