package xds_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// BenchmarkGRPCFloor is what a push costs with nothing but gRPC: a bare
// ADS service that sends every stream one response of a Domain's size
// from a pool of senders and counts the ACKs, and clients that ACK each
// response, one connection each, as BenchmarkFleetPush's fleet. No
// go-control-plane, tracker, status or parking: the least any ADS server
// on gRPC with one connection per proxy can spend. Compare its cpu-s/push
// with BenchmarkFleetPush's at the same KEYWAY_BENCH_SIMS (default 1000).
func BenchmarkGRPCFloor(b *testing.B) {
	n := simCount(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gr0 := runtime.NumGoroutine()
	f := &floor{}
	gs := grpc.NewServer()
	discovery.RegisterAggregatedDiscoveryServiceServer(gs, f)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()

	var wg sync.WaitGroup
	clientCtx, stopClients := context.WithCancel(ctx)
	defer func() { stopClients(); wg.Wait() }()
	for i := range n {
		cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		s, err := discovery.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(clientCtx)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Send(&discovery.DiscoveryRequest{TypeUrl: "keyway.v1.Domain", ResourceNames: []string{fmt.Sprintf("sim-%05d", i)}}); err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			for {
				r, err := s.Recv()
				if err != nil {
					return
				}
				if err := s.Send(&discovery.DiscoveryRequest{TypeUrl: r.GetTypeUrl(), VersionInfo: r.GetVersionInfo(), ResponseNonce: r.GetNonce()}); err != nil {
					return
				}
			}
		})
	}
	for f.streams() < n {
		runtime.Gosched()
	}
	goroutines := runtime.NumGoroutine() - gr0

	payload, err := anypb.New(wrapperspb.Bytes(make([]byte, 700)))
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := cpuTime()
	r0, w0 := syscalls()
	v := 0
	b.ResetTimer()
	for b.Loop() {
		v++
		ver := fmt.Sprintf("v%d-0123abcd", v)
		f.push(&discovery.DiscoveryResponse{VersionInfo: ver, TypeUrl: "keyway.v1.Domain", Nonce: strconv.Itoa(v), Resources: []*anypb.Any{payload, payload, payload}}, n)
	}
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/push")
	r1, w1 := syscalls()
	b.ReportMetric(float64(r1-r0)/float64(b.N)/float64(n), "reads/push/proxy")
	b.ReportMetric(float64(w1-w0)/float64(b.N)/float64(n), "writes/push/proxy")
	b.ReportMetric(float64(goroutines)/float64(n), "goroutines/proxy")
}

// floor is the bare ADS service: the handler's goroutine reads ACKs,
// pushes are sent by push's own pool.
type floor struct {
	discovery.UnimplementedAggregatedDiscoveryServiceServer
	mu   sync.Mutex
	all  []discovery.AggregatedDiscoveryService_StreamAggregatedResourcesServer
	acks chan struct{}
}

func (f *floor) streams() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.all)
}

func (f *floor) StreamAggregatedResources(s discovery.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	if _, err := s.Recv(); err != nil {
		return err
	}
	f.mu.Lock()
	f.all = append(f.all, s)
	f.mu.Unlock()
	for {
		if _, err := s.Recv(); err != nil {
			return err
		}
		f.mu.Lock()
		acks := f.acks
		f.mu.Unlock()
		acks <- struct{}{}
	}
}

// push sends r to every stream and returns when n ACKs came back.
func (f *floor) push(r *discovery.DiscoveryResponse, n int) {
	acks := make(chan struct{}, n)
	f.mu.Lock()
	f.acks = acks
	all := f.all
	f.mu.Unlock()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(all)); i = next.Add(1) - 1 {
				_ = all[i].Send(r)
			}
		})
	}
	wg.Wait()
	for range n {
		<-acks
	}
}
