package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"keyway.dev/dataplane/rawio"
	"keyway.dev/dataplane/resp"
	"keyway.dev/proto/keypair"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// dialer opens ready-to-use connections to the nodes of one upstream:
// TCP, then TLS, then AUTH.
type dialer struct {
	tls     *tls.Config // nil for plain TCP
	creds   *keywayv1.Credentials
	timeout time.Duration
	// setup is NewNode's onConnect encoded once; nsetup counts its
	// commands.
	setup  []byte
	nsetup int
}

// newDialer checks everything a connection will need that does not depend
// on Redis being up (CA bundle, client certificate, secrets), so a policy
// naming a missing file or variable is refused when it is applied rather
// than failing every request later.
func newDialer(u *keywayv1.Upstream, opts Options) (*dialer, error) {
	d := &dialer{creds: u.GetCredentials(), timeout: opts.ConnectTimeout}
	if _, _, err := d.secrets(); err != nil {
		return nil, err
	}
	if t := u.GetTls(); t.GetEnabled() {
		cfg, err := tlsConfig(t)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		d.tls = cfg
	}
	return d, nil
}

func tlsConfig(t *keywayv1.UpstreamTLS) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.GetServerName(),
		InsecureSkipVerify: t.GetInsecureSkipVerify(), //nolint:gosec // the policy asked for it explicitly
	}
	if f := t.GetCaFile(); f != "" {
		pool, err := keypair.LoadPool(f)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if t.GetCertFile() != "" || t.GetKeyFile() != "" {
		// Read again when the files change, so a client certificate
		// rotated under a running proxy is presented by the next
		// connection without a reload of the policy.
		kp, err := keypair.New(t.GetCertFile(), t.GetKeyFile())
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.GetClientCertificate = kp.GetClientCertificate
	}
	return cfg, nil
}

// secrets reads the username and password now, so a rotated file is
// picked up by the next connection.
func (d *dialer) secrets() (user, pass string, err error) {
	if d.creds == nil {
		return "", "", nil
	}
	if ref := d.creds.GetUsername(); ref != nil {
		if user, err = readSecret(ref); err != nil {
			return "", "", fmt.Errorf("credentials: username: %w", err)
		}
	}
	if ref := d.creds.GetPassword(); ref != nil {
		if pass, err = readSecret(ref); err != nil {
			return "", "", fmt.Errorf("credentials: password: %w", err)
		}
	}
	if user != "" && pass == "" {
		return "", "", errors.New("credentials: a username needs a password")
	}
	return user, pass, nil
}

// readSecret returns the secret ref names. Errors name where it was
// looked for, never what was found.
func readSecret(ref *keywayv1.SecretRef) (string, error) {
	switch src := ref.GetSource().(type) {
	case *keywayv1.SecretRef_Env:
		v, ok := os.LookupEnv(src.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", src.Env)
		}
		return v, nil
	case *keywayv1.SecretRef_File:
		b, err := os.ReadFile(src.File)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is already in the message
			}
			return "", fmt.Errorf("secret file %s: %w", src.File, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", src.File)
		}
		return v, nil
	}
	return "", errors.New("secret reference names neither env nor file")
}

// dial returns a connection to addr that is authenticated, speaks RESP
// version proto (2 or 3), and is ready for commands.
func (d *dialer) dial(ctx context.Context, addr string, proto uint8) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if d.tls == nil {
		nc = rawio.Wrap(nc)
	}
	if d.tls != nil {
		cfg := d.tls
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			cfg = cfg.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		nc = tc
	}
	if err := d.auth(ctx, nc); err != nil {
		_ = nc.Close()
		return nil, err
	}
	if proto == 3 {
		if err := hello(ctx, nc, 3); err != nil {
			_ = nc.Close()
			return nil, err
		}
	}
	if err := d.runSetup(ctx, nc); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return nc, nil
}

// hello switches nc to RESP version proto. Redis answers HELLO with a
// description of itself, which the proxy does not need.
func hello(ctx context.Context, nc net.Conn, proto uint8) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
		defer func() { _ = nc.SetDeadline(time.Time{}) }()
	}
	if _, err := nc.Write(helloCommand(nil, proto)); err != nil {
		return fmt.Errorf("hello %d: %w", proto, err)
	}
	reply, _, err := readReply(nc, make([]byte, 0, 512))
	if err != nil {
		return fmt.Errorf("hello %d: %w", proto, err)
	}
	if err := replyError(reply); err != nil {
		return fmt.Errorf("hello %d: %w", proto, err)
	}
	return nil
}

var helloArgs = [...][][]byte{
	2: {[]byte("HELLO"), []byte("2")},
	3: {[]byte("HELLO"), []byte("3")},
}

// helloCommand appends HELLO proto.
func helloCommand(dst []byte, proto uint8) []byte {
	if proto != 3 {
		proto = 2
	}
	return resp.AppendCommand(dst, helloArgs[proto])
}

// setOnConnect encodes the on-connect commands once for every dial.
func (d *dialer) setOnConnect(cmds [][]string) error {
	for _, words := range cmds {
		if len(words) == 0 {
			return errors.New("on-connect command is empty")
		}
		args := make([][]byte, len(words))
		for i, w := range words {
			args[i] = []byte(w)
		}
		d.setup = resp.AppendCommand(d.setup, args)
		d.nsetup++
	}
	return nil
}

// runSetup sends the on-connect commands in one write and checks every
// reply, before the connection carries anything else.
func (d *dialer) runSetup(ctx context.Context, nc net.Conn) error {
	if d.nsetup == 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
		defer func() { _ = nc.SetDeadline(time.Time{}) }()
	}
	if _, err := nc.Write(d.setup); err != nil {
		return fmt.Errorf("on-connect: %w", err)
	}
	buf := make([]byte, 0, 256)
	for range d.nsetup {
		reply, rest, err := readReply(nc, buf)
		if err != nil {
			return fmt.Errorf("on-connect: %w", err)
		}
		if err := replyError(reply); err != nil {
			return fmt.Errorf("on-connect: %w", err)
		}
		buf = append(buf[:0], rest...)
	}
	return nil
}

// auth sends AUTH when the upstream has credentials.
func (d *dialer) auth(ctx context.Context, nc net.Conn) error {
	user, pass, err := d.secrets()
	if err != nil || pass == "" {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
		defer func() { _ = nc.SetDeadline(time.Time{}) }()
	}
	if _, err := nc.Write(appendAuth(nil, user, pass)); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	reply, _, err := readReply(nc, make([]byte, 0, 256))
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if err := replyError(reply); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return nil
}

// appendAuth encodes AUTH [user] pass.
func appendAuth(dst []byte, user, pass string) []byte {
	if user == "" {
		return resp.AppendCommand(dst, [][]byte{[]byte("AUTH"), []byte(pass)})
	}
	return resp.AppendCommand(dst, [][]byte{[]byte("AUTH"), []byte(user), []byte(pass)})
}

// readReply reads exactly one reply from nc into buf. It is for the
// handshake, where nothing else is in flight, so it may return bytes after
// the reply only in the returned rest.
func readReply(nc net.Conn, buf []byte) (reply, rest []byte, err error) {
	for {
		n, err := resp.ReplyLen(buf)
		if err != nil {
			return nil, nil, err
		}
		if n > 0 {
			return buf[:n], buf[n:], nil
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil && m == 0 {
			return nil, nil, err
		}
	}
}

// replyError turns an error reply into an error carrying Redis's text.
func replyError(reply []byte) error {
	if len(reply) > 0 && reply[0] == '-' {
		return errors.New(strings.TrimRight(string(reply[1:]), "\r\n"))
	}
	return nil
}
