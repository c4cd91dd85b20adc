package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"keyway.dev/dataplane/frontend"
	"keyway.dev/dataplane/frontend/tlsconf"
)

// tlsListenerName names the TLS-only listener (--tls-listen) in the
// policy's listeners; with TLS on --listen the one listener keeps
// listenerName.
const tlsListenerName = "tls"

// clientTLSConfig is what the client TLS flags set.
type clientTLSConfig struct {
	cert, key  string
	clientCA   string
	clientAuth string
	// listen, when set, is a second listener that speaks only TLS while
	// --listen stays plaintext; when empty, --listen itself speaks TLS.
	listen string
	reload time.Duration
}

// clientSecurityFlags registers the flags of client TLS, AUTH slowing and
// the pub/sub output bound.
func clientSecurityFlags(fs *flag.FlagSet, c *clientTLSConfig, l *frontend.Limits) {
	fs.StringVar(&c.cert, "tls-cert", "", "PEM certificate for client TLS; with --tls-key, turns TLS on for --listen (or for --tls-listen only); reloaded when the file changes and on SIGHUP")
	fs.StringVar(&c.key, "tls-key", "", "PEM key of --tls-cert")
	fs.StringVar(&c.clientCA, "tls-client-ca", "", "PEM CA bundle verifying client certificates, whose CN, DNS or URI SAN may pick the workload domain")
	fs.StringVar(&c.clientAuth, "tls-client-auth", "none", "client certificates: none, request (verified when given) or require")
	fs.StringVar(&c.listen, "tls-listen", "", "serve TLS on this second address (listener \"tls\") and keep --listen plaintext")
	fs.DurationVar(&c.reload, "tls-reload-interval", 5*time.Second, "how often the TLS files are checked for changes")
	fs.Int64Var(&l.MaxPubSubOutput, "pubsub-output-limit", l.MaxPubSubOutput, "close a subscribed client whose unread messages exceed this many bytes (0 is no limit)")
	fs.IntVar(&l.Auth.Free, "auth-free-failures", l.Auth.Free, "failed AUTH attempts per source address and minute answered without delay")
	fs.DurationVar(&l.Auth.MaxDelay, "auth-max-delay", l.Auth.MaxDelay, "longest wait before a further AUTH attempt of an address over --auth-free-failures is answered")
}

// check validates the flags together.
func (c clientTLSConfig) check() error {
	if (c.cert == "") != (c.key == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.cert == "" && (c.listen != "" || c.clientCA != "") {
		return errors.New("--tls-listen and --tls-client-ca need --tls-cert and --tls-key")
	}
	auth, err := tlsconf.ParseClientAuth(c.clientAuth)
	if err != nil {
		return fmt.Errorf("--tls-client-auth: %w", err)
	}
	if auth != tlsconf.ClientAuthNone && c.clientCA == "" {
		return errors.New("--tls-client-auth request or require needs --tls-client-ca")
	}
	if c.reload <= 0 {
		return errors.New("--tls-reload-interval must be positive")
	}
	return nil
}

// files loads the TLS files, or returns nil when client TLS is off.
func (c clientTLSConfig) files() (*tlsconf.Files, error) {
	if c.cert == "" {
		return nil, nil
	}
	auth, err := tlsconf.ParseClientAuth(c.clientAuth)
	if err != nil {
		return nil, fmt.Errorf("--tls-client-auth: %w", err)
	}
	f, err := tlsconf.NewFiles(tlsconf.Options{CertFile: c.cert, KeyFile: c.key, ClientCAFile: c.clientCA, ClientAuth: auth})
	if err != nil {
		return nil, fmt.Errorf("client tls: %w", err)
	}
	return f, nil
}

// respListener is one RESP listener and its name in the policy.
type respListener struct {
	name string
	ln   net.Listener
}

// openListeners opens --listen, in TLS when files is set and there is
// no --tls-listen, and --tls-listen when set.
func openListeners(listen string, c clientTLSConfig, files *tlsconf.Files) ([]respListener, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listen for clients: %w", err)
	}
	if files == nil {
		return []respListener{{listenerName, ln}}, nil
	}
	if c.listen == "" {
		return []respListener{{listenerName, tls.NewListener(ln, files.Config())}}, nil
	}
	tln, err := net.Listen("tcp", c.listen)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("listen for tls clients: %w", err)
	}
	return []respListener{{listenerName, ln}, {tlsListenerName, tls.NewListener(tln, files.Config())}}, nil
}

// watchTLS reloads the TLS files when they change and on SIGHUP, until
// ctx ends. A failed reload is logged and the previous certificate keeps
// being served.
func watchTLS(ctx context.Context, files *tlsconf.Files, every time.Duration, log *slog.Logger, wg *sync.WaitGroup) {
	if files == nil {
		return
	}
	report := func(err error) {
		if err != nil {
			log.Error("client tls reload failed; serving the previous certificate", "err", err)
			return
		}
		cert := files.Certificate()
		log.Info("client tls reloaded", "subject", cert.Subject.String(), "serial", cert.SerialNumber.String(), "not_after", cert.NotAfter)
	}
	wg.Go(func() { files.Watch(ctx, every, report) })
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	wg.Go(func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				report(files.Reload())
			}
		}
	})
}

// writeAuthMetrics writes the failed-authentication counters in
// Prometheus text.
func writeAuthMetrics(w io.Writer, st frontend.AuthStats) {
	fmt.Fprintf(w, "# HELP keyway_auth_failures_total Failed AUTH and HELLO AUTH attempts.\n# TYPE keyway_auth_failures_total counter\nkeyway_auth_failures_total %d\n", st.Failures)
	fmt.Fprintf(w, "# HELP keyway_auth_delayed_total AUTH attempts delayed after repeated failures from their address.\n# TYPE keyway_auth_delayed_total counter\nkeyway_auth_delayed_total %d\n", st.Delayed)
	fmt.Fprintf(w, "# HELP keyway_auth_refused_total AUTH attempts refused unchecked because their address had too many queued.\n# TYPE keyway_auth_refused_total counter\nkeyway_auth_refused_total %d\n", st.Refused)
	fmt.Fprintf(w, "# HELP keyway_auth_throttled_addresses Source addresses whose AUTH attempts are delayed now.\n# TYPE keyway_auth_throttled_addresses gauge\nkeyway_auth_throttled_addresses %d\n", st.Throttled)
}
