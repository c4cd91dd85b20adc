package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"keyway.dev/controlplane/auth"
)

// etcdFlags are how keyway-control reaches a secured external etcd.
type etcdFlags struct {
	ca, cert, key string
	username      string
	passwordFile  string
	startWait     time.Duration
}

// defaultEtcdStartWait covers an etcd restarted or failed over together
// with the control plane, without keeping a misaddressed one waiting
// long before it says so.
const defaultEtcdStartWait = time.Minute

func registerEtcdFlags(fs *flag.FlagSet) *etcdFlags {
	e := &etcdFlags{}
	fs.StringVar(&e.ca, "etcd-ca", "", "reach --etcd-endpoints over TLS, verifying the servers against this PEM CA bundle")
	fs.StringVar(&e.cert, "etcd-cert", "", "PEM client certificate presented to etcd (re-read when the file changes)")
	fs.StringVar(&e.key, "etcd-key", "", "PEM key of --etcd-cert")
	fs.StringVar(&e.username, "etcd-username", "", "etcd user, with a role of readwrite on the prefix /keyway/")
	fs.StringVar(&e.passwordFile, "etcd-password-file", "", "file holding the password of --etcd-username (a file, so it shows in neither ps nor the environment)")
	fs.DurationVar(&e.startWait, "etcd-start-wait", defaultEtcdStartWait, "how long to keep trying --etcd-endpoints at start while none answers (0: fail at once); a refusal (credentials, TLS) fails at once")
	return e
}

// etcdAccess is what the flags resolve to.
type etcdAccess struct {
	tls                *tls.Config
	username, password string
	startWait          time.Duration
}

func (e *etcdFlags) config(endpoints []string) (etcdAccess, error) {
	out := etcdAccess{startWait: e.startWait}
	if e.startWait < 0 {
		return out, fmt.Errorf("--etcd-start-wait: %v is negative", e.startWait)
	}
	set := e.ca != "" || e.cert != "" || e.key != "" || e.username != "" || e.passwordFile != ""
	if set && len(endpoints) == 0 {
		return out, errors.New("--etcd-ca, --etcd-cert, --etcd-key, --etcd-username and --etcd-password-file need --etcd-endpoints (the embedded etcd is reached in process)")
	}
	if e.ca != "" || e.cert != "" || e.key != "" {
		c, err := auth.ClientTLS(e.ca, e.cert, e.key)
		if err != nil {
			return out, fmt.Errorf("--etcd-ca/--etcd-cert/--etcd-key: %w", err)
		}
		out.tls = c
	}
	for _, ep := range endpoints {
		if strings.HasPrefix(ep, "https://") && out.tls == nil {
			return out, fmt.Errorf("--etcd-endpoints: %s is https; set --etcd-ca (and --etcd-cert, --etcd-key when etcd asks for client certificates)", ep)
		}
	}
	if e.passwordFile != "" && e.username == "" {
		return out, errors.New("--etcd-password-file needs --etcd-username")
	}
	out.username = e.username
	if e.passwordFile != "" {
		b, err := os.ReadFile(e.passwordFile)
		if err != nil {
			return out, fmt.Errorf("--etcd-password-file: %w", err)
		}
		// Secrets mounted from files often end in a newline nobody meant.
		out.password = strings.TrimRight(string(b), "\r\n")
		if out.password == "" {
			return out, fmt.Errorf("--etcd-password-file: %s is empty", e.passwordFile)
		}
	}
	return out, nil
}
