package render

import (
	"go.starlark.net/starlark"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinTLS configures TLS to an upstream: tls(ca_file=, server_name=,
// cert_file=, key_file=, insecure_skip_verify=False).
func builtinTLS(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	t := &keywayv1.UpstreamTLS{Enabled: true}
	if err := unpack(fn.Name(), args, kwargs,
		"ca_file?", &t.CaFile, "server_name?", &t.ServerName, "cert_file?", &t.CertFile,
		"key_file?", &t.KeyFile, "insecure_skip_verify?", &t.InsecureSkipVerify); err != nil {
		return nil, err
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		c.errorf("cert_file= and key_file= go together (a client certificate needs its key)")
	}
	return &object[*keywayv1.UpstreamTLS]{typ: "tls", msg: t, pos: c.pos}, nil
}

// builtinCredentials names the secrets sent in AUTH:
// credentials(username=None, password=secret).
func builtinCredentials(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var user, pass starlark.Value = starlark.None, starlark.None
	if err := unpack(fn.Name(), args, kwargs, "username?", &user, "password?", &pass); err != nil {
		return nil, err
	}
	cr := &keywayv1.Credentials{}
	var err error
	if cr.Username, err = c.secret("username", user); err != nil {
		return nil, err
	}
	if cr.Password, err = c.secret("password", pass); err != nil {
		return nil, err
	}
	if pass == starlark.None {
		c.errorf("password= is required")
	}
	return &object[*keywayv1.Credentials]{typ: "credentials", msg: cr, pos: c.pos}, nil
}

// secret accepts only env(...) or file(...): a literal string would put a
// secret into the policy, its history and every snapshot.
func (c *call) secret(arg string, v starlark.Value) (*keywayv1.SecretRef, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case *object[*keywayv1.SecretRef]:
		return clone(v.msg), nil
	case starlark.String:
		c.errorf("%s: secrets never go in a policy; use env(\"NAME\") or file(\"/path\")", arg)
		return nil, nil
	}
	return nil, c.typeErr(arg, `env("NAME") or file("/path")`, v)
}

// builtinEnv is a secret read from an environment variable of the proxy:
// env("NAME").
func builtinEnv(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var name string
	if err := starlark.UnpackPositionalArgs(fn.Name(), args, kwargs, 1, &name); err != nil {
		return nil, err
	}
	if name == "" {
		c.errorf("empty variable name")
	}
	ref := &keywayv1.SecretRef{Source: &keywayv1.SecretRef_Env{Env: name}}
	return &object[*keywayv1.SecretRef]{typ: "secret", msg: ref, pos: c.pos}, nil
}

// builtinFile is a secret read from a file on the proxy's host:
// file("/path").
func builtinFile(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var path string
	if err := starlark.UnpackPositionalArgs(fn.Name(), args, kwargs, 1, &path); err != nil {
		return nil, err
	}
	if path == "" {
		c.errorf("empty path")
	}
	ref := &keywayv1.SecretRef{Source: &keywayv1.SecretRef_File{File: path}}
	return &object[*keywayv1.SecretRef]{typ: "secret", msg: ref, pos: c.pos}, nil
}

// builtinPool sizes the connections to each node of an upstream:
// pool(connections=0, dedicated_max=0, timeout="1s", connect_timeout=None).
func builtinPool(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var conns, dedicated int
	var timeout, connect starlark.Value = starlark.None, starlark.None
	if err := unpack(fn.Name(), args, kwargs,
		"connections?", &conns, "dedicated_max?", &dedicated, "timeout?", &timeout, "connect_timeout?", &connect); err != nil {
		return nil, err
	}
	p := &keywayv1.Pool{Connections: c.count("connections", conns, 0), DedicatedMax: c.count("dedicated_max", dedicated, 0)}
	var err error
	if p.Timeout, err = c.duration("timeout", timeout, "1s"); err != nil {
		return nil, err
	}
	if p.ConnectTimeout, err = c.duration("connect_timeout", connect, ""); err != nil {
		return nil, err
	}
	return &object[*keywayv1.Pool]{typ: "pool", msg: p, pos: c.pos}, nil
}
