package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"

	"keyway.dev/controlplane/admin"
	"keyway.dev/controlplane/auth"
	"keyway.dev/policy/render"
	"keyway.dev/policy/sandbox"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// security holds the flags for TLS, admin authentication and the render
// sandbox.
type security struct {
	tlsCert, tlsKey, clientCA string
	authMode                  string
	bootstrap                 string
	certRoles, certRolesFile  string
	renderIn                  string
	renderMemory              int64
}

func securityFlags(fs *flag.FlagSet) *security {
	s := &security{}
	fs.StringVar(&s.tlsCert, "tls-cert", "", "serve gRPC over TLS with this PEM certificate (reloaded when the file changes)")
	fs.StringVar(&s.tlsKey, "tls-key", "", "PEM key of --tls-cert")
	fs.StringVar(&s.clientCA, "tls-client-ca", "", "verify client certificates against this PEM CA bundle; proxies must then present one naming their node id")
	fs.StringVar(&s.authMode, "auth", "auto", "admin API authentication: auto (enforced once a token exists or --cert-roles is set), on, or off")
	fs.StringVar(&s.bootstrap, "bootstrap-token-file", "", "on a start that finds no token, create an admin token and write it to this file (mode 0600)")
	fs.StringVar(&s.certRoles, "cert-roles", "", "client certificate roles, comma-separated common-name=role pairs (viewer, author, operator, admin)")
	fs.StringVar(&s.certRolesFile, "cert-roles-file", "", "file of common-name=role lines, merged with --cert-roles")
	fs.StringVar(&s.renderIn, "render", "sandbox", "where pushed policies are rendered: sandbox (a child process with memory and CPU limits) or inprocess")
	fs.Int64Var(&s.renderMemory, "render-memory", sandbox.DefaultMemoryLimit>>20, "memory limit of the render sandbox, in MiB")
	return s
}

// secureConfig is what the flags resolve to.
type secureConfig struct {
	tls           *tls.Config
	mode          auth.Mode
	certRoles     map[string]auth.Role
	bootstrapFile string
	render        admin.Renderer
}

func (s *security) config(logger *slog.Logger) (secureConfig, error) {
	var out secureConfig
	var err error
	if out.mode, err = auth.ParseMode(s.authMode); err != nil {
		return out, fmt.Errorf("--auth: %w", err)
	}
	switch {
	case s.tlsCert != "" || s.tlsKey != "":
		if out.tls, err = auth.ServerTLS(s.tlsCert, s.tlsKey, s.clientCA); err != nil {
			return out, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
	case s.clientCA != "":
		return out, errors.New("--tls-client-ca needs --tls-cert and --tls-key")
	}
	out.certRoles = map[string]auth.Role{}
	if s.certRolesFile != "" {
		roles, err := auth.LoadCertRoles(s.certRolesFile)
		if err != nil {
			return out, fmt.Errorf("--cert-roles-file: %w", err)
		}
		maps.Copy(out.certRoles, roles)
	}
	roles, err := auth.ParseCertRoles(s.certRoles)
	if err != nil {
		return out, fmt.Errorf("--cert-roles: %w", err)
	}
	maps.Copy(out.certRoles, roles)
	if len(out.certRoles) > 0 && (out.tls == nil || out.tls.ClientCAs == nil) {
		return out, errors.New("--cert-roles needs --tls-client-ca to verify certificates")
	}
	out.bootstrapFile = s.bootstrap
	switch s.renderIn {
	case "sandbox":
		if s.renderMemory <= 0 {
			return out, fmt.Errorf("--render-memory must be positive, got %d", s.renderMemory)
		}
		sb, err := sandbox.New(sandbox.Config{MemoryLimit: s.renderMemory << 20})
		if err != nil {
			return out, err
		}
		out.render = sb.Render
	case "inprocess":
		out.render = func(ctx context.Context, b *keywayv1.Bundle) (*keywayv1.Policy, error) {
			return render.Render(ctx, b, render.Options{})
		}
	default:
		return out, fmt.Errorf("--render: %q is neither sandbox nor inprocess", s.renderIn)
	}
	if out.tls == nil {
		logger.Warn("gRPC is served without TLS: tokens and policies cross the network in clear text; set --tls-cert and --tls-key outside a laptop")
	} else if out.tls.ClientCAs == nil {
		logger.Warn("proxies are not authenticated: any client may subscribe as any node; set --tls-client-ca")
	}
	if out.mode == auth.Off {
		logger.Warn("admin API authentication is off: anyone who reaches the port may push and activate policies")
	}
	return out, nil
}
