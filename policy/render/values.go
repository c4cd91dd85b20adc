package render

import (
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
	"google.golang.org/protobuf/proto"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// engineValue is what every engine constructor returns: a finished
// Engine message that remembers where it was built. It is immutable, so
// one value may be used in several places of several trees.
type engineValue struct {
	kind string
	msg  *keywayv1.Engine
	// seq numbers values in creation order; it makes Hash deterministic
	// so engines can be dict keys (split's {engine: weight} form).
	seq uint32
}

var _ starlark.Value = (*engineValue)(nil)

func (e *engineValue) String() string {
	return fmt.Sprintf("<%s engine at %s>", e.kind, e.msg.GetSource())
}
func (e *engineValue) Type() string          { return "engine" }
func (e *engineValue) Freeze()               {}
func (e *engineValue) Truth() starlark.Bool  { return starlark.True }
func (e *engineValue) Hash() (uint32, error) { return e.seq, nil }

// upstreamValue is a declared upstream. Using it where an engine is
// expected means "forward to this upstream".
type upstreamValue struct {
	msg *keywayv1.Upstream
}

var _ starlark.Value = (*upstreamValue)(nil)

func (u *upstreamValue) String() string        { return fmt.Sprintf("<upstream %s>", u.msg.GetName()) }
func (u *upstreamValue) Type() string          { return "upstream" }
func (u *upstreamValue) Freeze()               {}
func (u *upstreamValue) Truth() starlark.Bool  { return starlark.True }
func (u *upstreamValue) Hash() (uint32, error) { return starlark.String(u.msg.GetName()).Hash() }

// Attr exposes the name, so helpers in a library can build on it.
func (u *upstreamValue) Attr(name string) (starlark.Value, error) {
	if name == "name" {
		return starlark.String(u.msg.GetName()), nil
	}
	return nil, nil
}

// AttrNames lists the attributes for dir().
func (u *upstreamValue) AttrNames() []string { return []string{"name"} }

// object is the value of the small helper constructors (tls, pool,
// credentials, env, file, user, encryption_key): a message only another
// builtin consumes.
type object[M proto.Message] struct {
	typ string
	msg M
	pos syntax.Position
}

func (o *object[M]) String() string        { return fmt.Sprintf("<%s at %s>", o.typ, o.pos) }
func (o *object[M]) Type() string          { return o.typ }
func (o *object[M]) Freeze()               {}
func (o *object[M]) Truth() starlark.Bool  { return starlark.True }
func (o *object[M]) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: %s", o.typ) }

// clone copies a message so that values shared by several trees never
// alias one another in the rendered policy.
func clone[M proto.Message](m M) M { return proto.Clone(m).(M) }
