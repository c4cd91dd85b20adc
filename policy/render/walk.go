package render

import (
	"google.golang.org/protobuf/reflect/protoreflect"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

var engineName = (&keywayv1.Engine{}).ProtoReflect().Descriptor().FullName()

// walk calls fn for e and every engine under it, depth first in field
// number order, so errors about a tree always come out in the same order.
// It finds engines by reflection so a new kind needs no change here.
func walk(e *keywayv1.Engine, fn func(*keywayv1.Engine)) {
	if e == nil {
		return
	}
	fn(e)
	walkFields(e.ProtoReflect(), fn)
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
				walk(mv.Interface().(*keywayv1.Engine), fn)
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
