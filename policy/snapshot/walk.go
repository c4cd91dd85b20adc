package snapshot

import (
	"google.golang.org/protobuf/reflect/protoreflect"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// This is the one walker over engine trees: render checks trees with it
// and Tree collects the upstreams a domain uses with it. It finds
// keyway.v1.Engine values by reflection, in single fields, repeated
// fields and nested messages (such as PrefixRoute), so a new engine kind
// needs no change here.

var engineName = (&keywayv1.Engine{}).ProtoReflect().Descriptor().FullName()

// Walk calls fn for every direct child engine of e, whatever its kind, in
// the order the fields are declared, so that whatever is reported about a
// tree always comes out in the same order. Map fields hold no engines in
// keyway.v1 and are not visited (a map's order is random).
func Walk(e *keywayv1.Engine, fn func(*keywayv1.Engine)) {
	if e == nil {
		return
	}
	m := e.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("kind"))
	if fd == nil {
		return
	}
	walkFields(m.Get(fd).Message(), fn)
}

// WalkAll calls fn for e and every engine under it, depth first.
func WalkAll(e *keywayv1.Engine, fn func(*keywayv1.Engine)) {
	if e == nil {
		return
	}
	fn(e)
	Walk(e, func(child *keywayv1.Engine) { WalkAll(child, fn) })
}

func walkFields(m protoreflect.Message, fn func(*keywayv1.Engine)) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() || !m.Has(fd) {
			continue
		}
		visit := func(mv protoreflect.Message) {
			if mv.Descriptor().FullName() == engineName {
				fn(mv.Interface().(*keywayv1.Engine))
				return
			}
			walkFields(mv, fn)
		}
		if fd.IsList() {
			l := m.Get(fd).List()
			for j := range l.Len() {
				visit(l.Get(j).Message())
			}
			continue
		}
		visit(m.Get(fd).Message())
	}
}
