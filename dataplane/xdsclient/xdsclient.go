// Package xdsclient is the proxy's subscription to the control plane: a
// state-of-the-world ADS client for Keyway's custom resource types.
//
// It exists because go-control-plane's own client handles one type, has
// no reconnect and hides versions and nonces. This one subscribes to
// every configured type URL on one stream, hands each response to a
// Handler, ACKs or NACKs with the handler's verdict, and reconnects with
// capped, jittered exponential backoff for as long as it runs, resuming
// with the versions it accepted so an unchanged config is not resent.
// Losing the control plane never stops the proxy: it keeps serving the
// last applied state.
package xdsclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Handler applies the resources of one response.
type Handler interface {
	// OnResources receives the complete set of resources of typeURL at
	// version. nil accepts them (ACK); an error rejects them (NACK) with
	// its text as the reason, and the previous version stays in force.
	// Calls are serialized.
	OnResources(typeURL, version string, resources []*anypb.Any) error
}

// ErrHeld, returned (or wrapped) by OnResources, neither ACKs nor NACKs
// the response yet: the handler holds it until a response of another
// type completes it (a policy version's ProxyConfig waits for the same
// version's Domains, so that the two are applied or refused together).
// A Handler that holds responses must implement Settler.
var ErrHeld = errors.New("held until the rest of its version arrives")

// Settler is a Handler that holds responses back. After every response
// the client asks it for the verdicts it has reached on held ones and
// sends their ACKs or NACKs, before the ACK or NACK of the response
// that settled them.
type Settler interface {
	Handler
	// Settled returns, and forgets, the verdicts reached since the last
	// call on responses it held, by type URL.
	Settled() map[string]Verdict
}

// Verdict is a Settler's answer on a held response: the version it
// settles and nil to accept it, an error to refuse it.
type Verdict struct {
	Version string
	Err     error
	// Superseded says the held response will never be applied: its
	// partner arrived at another version. The client answers it with the
	// version in force and no error, the xDS request for the type's
	// newest, so that the control plane, which sends a type nothing new
	// until its last response is answered, sends the version the partner
	// is waiting for. Err is then ignored.
	Superseded bool
}

// Featured is a Handler that needs the control plane to know how it
// handles responses: the client announces its features in the node's
// client_features.
type Featured interface {
	Handler
	ClientFeatures() []string
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(typeURL, version string, resources []*anypb.Any) error

// OnResources calls f.
func (f HandlerFunc) OnResources(typeURL, version string, resources []*anypb.Any) error {
	return f(typeURL, version, resources)
}

// Backoff bounds the wait between reconnects; zero fields take the
// defaults 100ms and DefaultMaxBackoff.
type Backoff struct {
	Min, Max time.Duration
}

// DefaultMaxBackoff caps the wait between connection attempts. It bounds
// how long after a control plane comes back a proxy that has been
// retrying for a while notices: the whole fleet tries again within about
// this (plus gRPC's 20 % jitter) of the control plane's return, which
// leaves a restart room to be over in 10 s. Shorter costs refused
// connection attempts while the control plane is down (10,000 proxies
// at 5 s: 2,000 a second, each a SYN answered by a RST).
const DefaultMaxBackoff = 5 * time.Second

func (b Backoff) withDefaults() Backoff {
	if b.Min <= 0 {
		b.Min = 100 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = DefaultMaxBackoff
	}
	b.Max = max(b.Max, b.Min)
	return b
}

// ConnectParams paces gRPC's own reconnects of the connection: gRPC's
// defaults (a first retry after 1 s, growing by 1.6, jittered by 20 %)
// capped at b.Max instead of 2 minutes, which is what decides how soon a
// returning control plane is found. A faster first retry would multiply
// the refused attempts of a whole fleet while its control plane restarts
// (at 100 ms, ten per proxy in its first 5 s) for little gain: the
// control plane takes a second or more to come back. keyway-bench's
// simulated proxies dial with it too.
func ConnectParams(b Backoff) grpc.ConnectParams {
	b = b.withDefaults()
	return grpc.ConnectParams{
		Backoff: backoff.Config{BaseDelay: min(time.Second, b.Max), Multiplier: 1.6, Jitter: 0.2, MaxDelay: b.Max},
		// A connection attempt gets at least this long: a control plane
		// busy accepting a returning fleet is slow, not gone.
		MinConnectTimeout: 10 * time.Second,
	}
}

// Config configures a Client.
type Config struct {
	// Target is the control plane's host:port.
	Target string
	// NodeID identifies this proxy; Cluster is its node group ("keyway").
	NodeID  string
	Cluster string
	// Metadata is sent as the node's metadata (listener addresses, ...).
	Metadata map[string]string
	// TypeURLs are subscribed to, each as a wildcard.
	TypeURLs []string
	Handler  Handler
	// Versions are versions already applied, per type URL, for example
	// from a snapshot saved on disk; the first request claims them so the
	// server sends only what is newer.
	Versions map[string]string
	// DialOptions default to plaintext.
	DialOptions []grpc.DialOption
	Log         *slog.Logger
	Backoff     Backoff
	// Keepalive is how the connection proves it is alive; the zero value
	// means DefaultKeepalive.
	Keepalive keepalive.ClientParameters
}

// DefaultKeepalive pings the control plane after 15s without a frame
// from it and gives up on the connection 5s later, so a stream that went
// half-open (a control plane that died without a FIN or RST, a NAT or
// load balancer that dropped the flow) is noticed within 20s and the
// proxy reconnects, instead of waiting for pushes that never come. The
// pings go even with no RPC open, which keeps the telemetry connection
// (one short RPC per interval) honest too. keyway-control permits a ping
// every 5s (its keepalive enforcement), so these are never refused.
var DefaultKeepalive = keepalive.ClientParameters{Time: 15 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}

// Client is an ADS subscription. Run it once.
type Client struct {
	cfg Config
	log *slog.Logger

	connected atomic.Bool
	mu        sync.Mutex
	versions  map[string]string
	cc        *grpc.ClientConn
}

// New returns a Client for cfg; it connects when Run is called.
func New(cfg Config) *Client {
	cfg.Backoff = cfg.Backoff.withDefaults()
	if cfg.Cluster == "" {
		cfg.Cluster = "keyway"
	}
	if cfg.Keepalive == (keepalive.ClientParameters{}) {
		cfg.Keepalive = DefaultKeepalive
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, log: log.With("control_plane", cfg.Target), versions: map[string]string{}}
	maps.Copy(c.versions, cfg.Versions)
	return c
}

// Connected reports whether a stream to the control plane is open on a
// ready connection.
func (c *Client) Connected() bool {
	if !c.connected.Load() {
		return false
	}
	c.mu.Lock()
	cc := c.cc
	c.mu.Unlock()
	return cc != nil && cc.GetState() == connectivity.Ready
}

// Versions returns the accepted version per type URL.
func (c *Client) Versions() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.versions)
}

// Version returns the accepted version of typeURL, "" if none.
func (c *Client) Version(typeURL string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.versions[typeURL]
}

// Run keeps the subscription up until ctx ends, then returns nil. It
// returns an error only for a configuration it cannot dial at all.
func (c *Client) Run(ctx context.Context) error {
	if c.cfg.Handler == nil || len(c.cfg.TypeURLs) == 0 {
		return errors.New("xdsclient: a handler and at least one type URL are required")
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// gRPC's own reconnect backoff defaults to a 120s cap; keep it
		// within ours so a returning control plane is found quickly.
		grpc.WithConnectParams(ConnectParams(c.cfg.Backoff)),
		grpc.WithKeepaliveParams(c.cfg.Keepalive),
	}
	opts = append(opts, c.cfg.DialOptions...)
	cc, err := grpc.NewClient(c.cfg.Target, opts...)
	if err != nil {
		return fmt.Errorf("xdsclient: dial %s: %w", c.cfg.Target, err)
	}
	defer cc.Close()
	c.mu.Lock()
	c.cc = cc
	c.mu.Unlock()

	ads := discovery.NewAggregatedDiscoveryServiceClient(cc)
	attempt := 0
	for {
		began := time.Now()
		received, err := c.stream(ctx, ads)
		c.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		// A stream that got a response, or that lasted, worked: start the
		// backoff afresh. (A resumed stream may rightly get nothing: the
		// proxy claimed every current version.)
		if received || time.Since(began) >= c.cfg.Backoff.Max {
			attempt = 0
		}
		wait := c.cfg.Backoff.delay(attempt)
		attempt++
		if code := grpcstatus.Code(err); code == codes.PermissionDenied || code == codes.Unauthenticated {
			// Retrying will not help until someone fixes the certificate
			// or --node-id, so say so loudly.
			c.log.Error("the control plane refused this proxy; check its certificate and --node-id", "node", c.cfg.NodeID, "err", err, "retry_in", wait)
		} else {
			c.log.Warn("control plane stream ended; reconnecting", "err", err, "in", wait)
		}
		if !pause(ctx, cc, wait) {
			return nil
		}
	}
}

// pause waits d before the next stream, or less when the connection is
// down: then only until gRPC's reconnects (paced by ConnectParams) bring
// it up, so a returning control plane is used as soon as an attempt
// reaches it rather than after a second, independent timer that grew
// while it was away. A connection that is up (the control plane ended
// the stream or refused it) waits all of d. It reports false when ctx
// ended.
func pause(ctx context.Context, cc *grpc.ClientConn, d time.Duration) bool {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	st := cc.GetState()
	if st == connectivity.Ready {
		<-wctx.Done()
		return ctx.Err() == nil
	}
	for st != connectivity.Ready {
		if st == connectivity.Idle {
			cc.Connect()
		}
		if !cc.WaitForStateChange(wctx, st) {
			break
		}
		st = cc.GetState()
	}
	return ctx.Err() == nil
}

// stream runs one ADS stream until it fails. It reports whether any
// response arrived, which resets the backoff.
func (c *Client) stream(ctx context.Context, ads discovery.AggregatedDiscoveryServiceClient) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		return false, fmt.Errorf("open stream: %w", err)
	}
	node, err := c.node()
	if err != nil {
		return false, err
	}
	for _, t := range c.cfg.TypeURLs {
		req := &discovery.DiscoveryRequest{TypeUrl: t, VersionInfo: c.Version(t)}
		if node != nil {
			req.Node, node = node, nil // the server remembers it from the first request
		}
		if err := s.Send(req); err != nil {
			return false, fmt.Errorf("subscribe to %s: %w", t, err)
		}
	}
	c.connected.Store(true)
	c.log.Info("subscribed to the control plane", "types", c.cfg.TypeURLs, "versions", c.Versions())
	received := false
	// held is the response per type URL the handler holds back, still to
	// be answered; a newer response of the type replaces it.
	held := map[string]*discovery.DiscoveryResponse{}
	for {
		resp, err := s.Recv()
		if err != nil {
			return received, fmt.Errorf("receive: %w", err)
		}
		received = true
		t := resp.GetTypeUrl()
		delete(held, t)
		err = c.cfg.Handler.OnResources(t, resp.GetVersionInfo(), resp.GetResources())
		if errors.Is(err, ErrHeld) {
			held[t] = resp
			c.log.Info("holding config until the rest of its version arrives", "type", t, "version", resp.GetVersionInfo())
		}
		// Answer what this response settled first, so the control plane
		// hears the response that decided last (its NACK names the cause).
		if st, ok := c.cfg.Handler.(Settler); ok {
			for ht, v := range st.Settled() {
				h := held[ht]
				if h == nil || h.GetVersionInfo() != v.Version {
					continue
				}
				delete(held, ht)
				var req *discovery.DiscoveryRequest
				if v.Superseded {
					req = c.release(h)
				} else {
					req = c.answer(h, v.Err)
				}
				if err := s.Send(req); err != nil {
					return received, fmt.Errorf("acknowledge %s %s: %w", ht, v.Version, err)
				}
			}
		}
		if errors.Is(err, ErrHeld) {
			continue
		}
		if err := s.Send(c.answer(resp, err)); err != nil {
			return received, fmt.Errorf("acknowledge %s %s: %w", t, resp.GetVersionInfo(), err)
		}
	}
}

// answer records the handler's verdict err on resp and returns its ACK
// (nil) or NACK.
func (c *Client) answer(resp *discovery.DiscoveryResponse, err error) *discovery.DiscoveryRequest {
	t, v := resp.GetTypeUrl(), resp.GetVersionInfo()
	req := c.request(resp, err == nil)
	if err != nil {
		req.ErrorDetail = &status.Status{Code: int32(codes.InvalidArgument), Message: err.Error()}
		c.log.Error("rejected config from the control plane", "type", t, "version", v, "keeping", req.GetVersionInfo(), "err", err)
		return req
	}
	c.log.Info("applied config from the control plane", "type", t, "version", v, "resources", len(resp.GetResources()))
	return req
}

// release answers a held response that was superseded without applying
// or refusing it: the request names the version in force, which asks the
// control plane for the type's newest.
func (c *Client) release(resp *discovery.DiscoveryResponse) *discovery.DiscoveryRequest {
	req := c.request(resp, false)
	c.log.Info("released held config: its partner arrived at another version", "type", resp.GetTypeUrl(), "version", resp.GetVersionInfo(), "keeping", req.GetVersionInfo())
	return req
}

// request answers resp naming the version in force, which is resp's own
// when applied.
func (c *Client) request(resp *discovery.DiscoveryResponse, applied bool) *discovery.DiscoveryRequest {
	t := resp.GetTypeUrl()
	c.mu.Lock()
	if applied {
		c.versions[t] = resp.GetVersionInfo()
	}
	accepted := c.versions[t]
	c.mu.Unlock()
	return &discovery.DiscoveryRequest{TypeUrl: t, VersionInfo: accepted, ResponseNonce: resp.GetNonce()}
}

func (c *Client) node() (*corev3.Node, error) {
	n := &corev3.Node{Id: c.cfg.NodeID, Cluster: c.cfg.Cluster, UserAgentName: "keyway-proxy"}
	if f, ok := c.cfg.Handler.(Featured); ok {
		n.ClientFeatures = f.ClientFeatures()
	}
	if len(c.cfg.Metadata) > 0 {
		fields := make(map[string]any, len(c.cfg.Metadata))
		for k, v := range c.cfg.Metadata {
			fields[k] = v
		}
		md, err := structpb.NewStruct(fields)
		if err != nil {
			return nil, fmt.Errorf("node metadata: %w", err)
		}
		n.Metadata = md
	}
	return n, nil
}
