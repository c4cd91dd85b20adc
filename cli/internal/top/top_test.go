package top

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// fake is a TelemetryQueryService with a canned answer.
type fake struct {
	keywayv1.UnimplementedTelemetryQueryServiceServer
	mu   sync.Mutex
	reqs []*keywayv1.TopRequest
	fail bool
	// failCall makes only that call (1-based) fail.
	failCall int
	onTop    func(calls int) // called after each query
}

func (f *fake) Top(_ context.Context, req *keywayv1.TopRequest) (*keywayv1.TopResponse, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	calls := len(f.reqs)
	fail := f.fail || f.failCall == calls
	f.mu.Unlock()
	if f.onTop != nil {
		defer f.onTop(calls)
	}
	if fail {
		return nil, status.Error(codes.Unavailable, "control plane restarting")
	}
	return canned(req.GetDomain()), nil
}

var when = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

func canned(domain string) *keywayv1.TopResponse {
	pay := &keywayv1.DomainTop{
		Domain:      "payments",
		Connections: 42,
		Traffic: &keywayv1.Traffic{Requests: 6000, Qps: 100, Errors: 6, ErrorRate: 0.001,
			ErrorsByKind: map[string]uint64{"timeout": 6}, P50Seconds: 100e-6, P99Seconds: 0.02,
			RequestBytes: 6000 * 2048, ReplyBytes: 6000 * 10},
	}
	search := &keywayv1.DomainTop{Domain: "search", Traffic: &keywayv1.Traffic{Requests: 60, Qps: 1}}
	resp := &keywayv1.TopResponse{Time: timestamppb.New(when), WindowSeconds: 60}
	if domain == "" {
		resp.Domains = []*keywayv1.DomainTop{pay, search}
		resp.Nodes = []*keywayv1.NodeTop{{NodeId: "proxy-1", Qps: 101, Connections: 42, LastReport: timestamppb.New(when)}}
		return resp
	}
	if domain == "payments" {
		pay.Commands = []*keywayv1.CommandTop{
			{Command: "GET", Traffic: &keywayv1.Traffic{Requests: 5400, Qps: 90}},
			{Command: "SET", Traffic: &keywayv1.Traffic{Requests: 600, Qps: 10, Errors: 6, ErrorRate: 0.01, ErrorsByKind: map[string]uint64{"timeout": 6}}},
		}
		pay.Tracks = []*keywayv1.TrackTop{{Track: "canary", Traffic: &keywayv1.Traffic{Requests: 60, Qps: 1}}, {Track: "stable", Traffic: &keywayv1.Traffic{Requests: 5940, Qps: 99}}}
		pay.HotKeys = []*keywayv1.HotKey{{Domain: "payments", Key: "user:42", Count: 1100}}
		pay.NearCache = &keywayv1.NearCacheTop{Hits: 4500, Misses: 1500, HitRatio: 0.75, Coalesced: 60, Invalidations: 120, Evictions: 6, Bytes: 1536 << 10}
		resp.Domains = []*keywayv1.DomainTop{pay}
	}
	return resp
}

func start(t *testing.T, f *fake) *grpc.ClientConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	keywayv1.RegisterTelemetryQueryServiceServer(s, f)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func TestOnce(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantWindow keywayv1.Window
		want       []string // substrings of stdout
		notWant    []string
	}{
		{
			name:       "fleet table",
			args:       []string{"--once"},
			wantWindow: keywayv1.Window_WINDOW_ONE_MINUTE,
			want: []string{"DOMAIN", "payments", "100", "0.10%", "100µs", "20.0ms", "200.0KiB/s", "1000B/s", "42",
				"search", "NODE", "proxy-1", "101"},
			notWant: []string{clearScreen, "COMMAND", "HOT KEY", "NEAR CACHE"},
		},
		{
			name:       "drill-down",
			args:       []string{"--once", "--domain", "payments", "--window", "5m"},
			wantWindow: keywayv1.Window_WINDOW_FIVE_MINUTES,
			want: []string{"domain payments", "COMMAND", "GET", "SET", "1.00%", "timeout=6", "TRACK", "canary", "HOT KEY", "user:42", "1100",
				"NEAR CACHE", "HIT%", "75.00%", "75", "25", "1.5MiB"},
			notWant: []string{"search", "NODE"},
		},
		{
			name:       "unknown domain",
			args:       []string{"--once", "--domain", "nope"},
			wantWindow: keywayv1.Window_WINDOW_ONE_MINUTE,
			want:       []string{`no traffic for domain "nope"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{}
			var out, errOut bytes.Buffer
			if code := Run(context.Background(), start(t, f), tt.args, &out, &errOut); code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut.String())
			}
			if len(f.reqs) != 1 || f.reqs[0].GetWindow() != tt.wantWindow {
				t.Fatalf("requests = %v, want one with window %v", f.reqs, tt.wantWindow)
			}
			for _, s := range tt.want {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(out.String(), s) {
					t.Errorf("output has %q:\n%s", s, out.String())
				}
			}
		})
	}
}

func TestOnceJSON(t *testing.T) {
	f := &fake{}
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), start(t, f), []string{"--once", "-o", "json", "--domain", "payments"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	var got struct {
		WindowSeconds float64 `json:"window_seconds"`
		Domains       []struct {
			Domain  string `json:"domain"`
			Traffic struct {
				Requests   uint64  `json:"requests"` // a number, not protojson's string
				ErrorRate  float64 `json:"error_rate"`
				P99Seconds float64 `json:"p99_seconds"`
			} `json:"traffic"`
			Connections int64 `json:"connections"`
			Commands    []struct {
				Command string `json:"command"`
			} `json:"commands"`
			HotKeys []struct {
				Key string `json:"key"`
			} `json:"hot_keys"`
		} `json:"domains"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if got.WindowSeconds != 60 || len(got.Domains) != 1 {
		t.Fatalf("got %+v", got)
	}
	d := got.Domains[0]
	if d.Domain != "payments" || d.Traffic.Requests != 6000 || d.Traffic.P99Seconds != 0.02 || d.Connections != 42 ||
		len(d.Commands) != 2 || d.HotKeys[0].Key != "user:42" {
		t.Fatalf("payments = %+v", d)
	}
}

func TestLiveRedrawsUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const frames = 3
	// The second query fails: the view says so and keeps going.
	f := &fake{failCall: 2, onTop: func(calls int) {
		if calls == frames {
			cancel()
		}
	}}
	cc := start(t, f)
	var out, errOut bytes.Buffer
	if code := Run(ctx, cc, []string{"--interval", "1ms"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	if got := strings.Count(out.String(), clearScreen); got != frames-1 && got != frames {
		t.Fatalf("%d frames drawn, want %d (the last query may be cut by cancel)", got, frames)
	}
	if !strings.Contains(out.String(), "query failed") || !strings.Contains(out.String(), "payments") {
		t.Fatalf("frames lack the failure or the table:\n%s", out.String())
	}
}

// TestLivePlain: into a pipe (--plain, which keyway top sets when stdout
// is not a terminal) frames follow one another without control codes.
func TestLivePlain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fake{onTop: func(calls int) {
		if calls == 2 {
			cancel()
		}
	}}
	var out, errOut bytes.Buffer
	if code := Run(ctx, start(t, f), []string{"--interval", "1ms", "--plain"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Fatalf("plain frames hold terminal control codes: %q", out.String())
	}
	if n := strings.Count(out.String(), "keyway top  "); n < 1 {
		t.Fatalf("no frame drawn:\n%s", out.String())
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		fail bool
		code int
		want string // in stderr
	}{
		{"bad window", []string{"--window", "1h"}, false, 2, "want 1m or 5m"},
		{"json needs once", []string{"-o", "json"}, false, 2, "needs --once"},
		{"bad format", []string{"--once", "-o", "xml"}, false, 2, "unknown output format"},
		{"stray argument", []string{"payments"}, false, 2, "unexpected argument"},
		{"bad interval", []string{"--interval", "0s"}, false, 2, "positive"},
		{"help", []string{"-h"}, false, 0, "usage: keyway top"},
		{"query fails", []string{"--once"}, true, 1, "control plane restarting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Run(context.Background(), start(t, &fake{fail: tt.fail}), tt.args, &out, &errOut)
			if code != tt.code || !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut.String(), tt.code, tt.want)
			}
		})
	}
}
