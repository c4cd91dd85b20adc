package render

import (
	"go.starlark.net/starlark"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinTest declares an offline test case of the bundle:
// test(name, domain, command=["GET", "user:1"], expect_upstream=None,
// expect_error=None). Exactly one expectation is required.
func builtinTest(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	t := &keywayv1.PolicyTest{Source: c.source()}
	var command, expectUp starlark.Value = starlark.None, starlark.None
	if err := unpack(fn.Name(), args, kwargs,
		"name", &t.Name, "domain", &t.Domain, "command", &command,
		"expect_upstream?", &expectUp, "expect_error?", &t.ExpectError); err != nil {
		return nil, err
	}
	var err error
	if t.Command, err = c.strs("command", command); err != nil {
		return nil, err
	}
	if len(t.Command) == 0 {
		c.errorf("command: empty (want e.g. [\"GET\", \"user:1\"])")
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
	if (t.ExpectUpstream == "") == (t.ExpectError == "") {
		c.errorf("give exactly one of expect_upstream= and expect_error=")
	}
	if t.ExpectUpstream != "" {
		c.st.upstreamRefs = append(c.st.upstreamRefs, ref{name: t.ExpectUpstream, pos: c.source(), what: "test: expect_upstream"})
	}
	c.declare("test", t.Name, c.st.tests)
	c.domainRef("domain", t.Domain)
	c.st.policy.Tests = append(c.st.policy.Tests, t)
	return starlark.None, nil
}
