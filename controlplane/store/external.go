package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyway.dev/controlplane/etcdkeys"
	"keyway.dev/proto/backoff"
)

// openExternal connects to an etcd cluster and proves the connection
// with one read, so that a refused certificate, a wrong password or a
// missing role stops keyway-control at start with a message saying which,
// rather than as a timeout on the first push.
//
// An etcd that does not answer at all is tried again for cfg.StartWait.
func openExternal(cfg Config) (*Store, error) {
	if cfg.Password != "" && cfg.Username == "" {
		return nil, errors.New("connect to etcd: a password needs a username")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	deadline := time.Now().Add(cfg.StartWait)
	pause := backoff.Exponential{Min: 250 * time.Millisecond, Max: 5 * time.Second}
	for attempt := 0; ; attempt++ {
		st, err := tryExternal(cfg)
		if err == nil {
			if attempt > 0 {
				log.Info("etcd answers", "endpoints", cfg.Endpoints, "tries", attempt+1)
			}
			return st, nil
		}
		d := pause.Delay(attempt)
		if !unanswered(err) || time.Now().Add(d).After(deadline) {
			return nil, err
		}
		log.Warn("etcd does not answer yet; waiting for it", "endpoints", cfg.Endpoints,
			"try", attempt+1, "next_in", d, "gives_up_at", deadline.Format(time.RFC3339), "err", err)
		time.Sleep(d)
	}
}

// unansweredError marks a failure that another try may not have: nothing
// answered, as opposed to an etcd that answered with a refusal.
type unansweredError struct{ error }

func (e unansweredError) Unwrap() error { return e.error }

func unanswered(err error) bool {
	var u unansweredError
	return errors.As(err, &u)
}

// tryExternal is one try of openExternal.
func tryExternal(cfg Config) (*Store, error) {
	if cfg.TLS != nil {
		if err := probeTLS(cfg.Endpoints, cfg.TLS); err != nil {
			return nil, fmt.Errorf("connect to etcd %v: %w", cfg.Endpoints, err)
		}
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: cfg.Endpoints,
		// The client's own logs are zap JSON on stderr; its failures reach
		// us as errors, worded below.
		Logger:      zap.NewNop(),
		TLS:         cfg.TLS,
		Username:    cfg.Username,
		Password:    cfg.Password,
		DialTimeout: 5 * time.Second,
		// Without keepalives a dead etcd is only noticed by the op timeout.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		DialOptions:          cfg.DialOptions,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %v: %w", cfg.Endpoints, explainEtcdError(err, cfg))
	}
	timeout := cfg.OpTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// One key under Keyway's prefix, so a role granted only that prefix
	// passes.
	if _, err := cli.Get(ctx, etcdkeys.Root, clientv3.WithCountOnly()); err != nil {
		cli.Close()
		err = explainEtcdError(err, cfg)
		if st, ok := status.FromError(err); errors.Is(err, context.DeadlineExceeded) || ok && st.Code() == codes.Unavailable {
			err = unansweredError{err}
		}
		return nil, fmt.Errorf("connect to etcd %v: %w", cfg.Endpoints, err)
	}
	return newStore(cli, nil, cfg), nil
}

// explainEtcdError adds what an operator should check to the errors a
// misconfigured client gets, which etcd and gRPC word for their own
// developers ("context deadline exceeded", "authentication failed").
func explainEtcdError(err error, cfg Config) error {
	msg := err.Error()
	if st, ok := status.FromError(err); ok && st.Code() == codes.Unavailable {
		msg = st.Message()
	}
	switch {
	case errors.Is(err, rpctypes.ErrAuthFailed):
		return fmt.Errorf("etcd refused user %q: wrong username or password (--etcd-username, --etcd-password-file): %w", cfg.Username, err)
	case errors.Is(err, rpctypes.ErrUserEmpty), errors.Is(err, rpctypes.ErrInvalidAuthToken):
		return fmt.Errorf("etcd has authentication enabled and needs a user (--etcd-username, --etcd-password-file) or a client certificate it maps to one: %w", err)
	case errors.Is(err, rpctypes.ErrPermissionDenied) && cfg.Username == "":
		return fmt.Errorf("etcd knows no user for this client: set --etcd-username and --etcd-password-file, or present a client certificate whose common name is an etcd user with readwrite on the prefix /keyway/: %w", err)
	case errors.Is(err, rpctypes.ErrPermissionDenied):
		return fmt.Errorf("etcd user %q may not read Keyway's keys; grant it a role with readwrite on the prefix /keyway/: %w", cfg.Username, err)
	case strings.Contains(msg, "certificate required"), strings.Contains(msg, "bad certificate"),
		strings.Contains(msg, "unknown certificate authority"), strings.Contains(msg, "certificate signed by unknown"),
		strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"):
		return fmt.Errorf("TLS with etcd failed (check --etcd-ca, --etcd-cert and --etcd-key against the etcd's --trusted-ca-file and certificate): %w", err)
	case cfg.TLS == nil && strings.Contains(msg, "first record does not look like a TLS handshake") ||
		cfg.TLS == nil && strings.Contains(msg, "connection reset"):
		return fmt.Errorf("etcd may be serving TLS; set --etcd-ca (and --etcd-cert, --etcd-key if it demands client certificates): %w", err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no etcd endpoint answered within the timeout (is it reachable, and does it speak TLS when --etcd-ca is set?): %w", err)
	}
	return err
}
