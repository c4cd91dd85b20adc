package render

import (
	"go.starlark.net/starlark"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinTest declares an offline test case of the bundle:
// test(name, domain, command=["GET", "user:1"], expect_upstream=None,
// expect_error=None, expect_command=None): a refusal, or where the
// command goes and/or what it becomes on the way.
func builtinTest(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	t := &keywayv1.PolicyTest{Source: c.source()}
	var command, expectUp, expectCmd starlark.Value = starlark.None, starlark.None, starlark.None
	if err := unpack(fn.Name(), args, kwargs,
		"name", &t.Name, "domain", &t.Domain, "command", &command,
		"expect_upstream?", &expectUp, "expect_error?", &t.ExpectError, "expect_command?", &expectCmd); err != nil {
		return nil, err
	}
	var err error
	if t.Command, err = c.strs("command", command); err != nil {
		return nil, err
	}
	if len(t.Command) == 0 {
		c.errorf("command: empty (want e.g. [\"GET\", \"user:1\"])")
	}
	if expectCmd != starlark.None {
		if t.ExpectCommand, err = c.strs("expect_command", expectCmd); err != nil {
			return nil, err
		}
		if len(t.ExpectCommand) == 0 {
			c.errorf("expect_command: empty (want the command as the upstream receives it, e.g. [\"GET\", \"tenant:user:1\"])")
		}
	}
	switch v := expectUp.(type) {
	case starlark.NoneType:
	case *upstreamValue:
		t.ExpectUpstream = v.msg.GetName()
	case starlark.String:
		t.ExpectUpstream = string(v)
	default:
		return nil, c.typeErr("expect_upstream", "an upstream or an upstream name", expectUp)
	}
	reaches := t.ExpectUpstream != "" || expectCmd != starlark.None
	switch {
	case !reaches && t.ExpectError == "":
		c.errorf("give expect_upstream= or expect_command= (where the command goes, what it becomes), or expect_error=")
	case reaches && t.ExpectError != "":
		c.errorf("expect_error= cannot go with expect_upstream= or expect_command= (a refused command reaches no upstream)")
	}
	if t.ExpectUpstream != "" {
		c.st.upstreamRefs = append(c.st.upstreamRefs, ref{name: t.ExpectUpstream, pos: c.source(), what: "test: expect_upstream"})
	}
	c.declare("test", t.Name, c.st.tests)
	c.domainRef("domain", t.Domain)
	c.st.policy.Tests = append(c.st.policy.Tests, t)
	return starlark.None, nil
}
