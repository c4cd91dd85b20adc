package snapshot

import (
	"google.golang.org/protobuf/reflect/protoreflect"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

var engineName = (&keywayv1.Engine{}).ProtoReflect().Descriptor().FullName()

// Walk calls fn for every direct child engine of e, in field order,
// whatever its kind: it finds keyway.v1.Engine values by reflection, in
// single fields, repeated fields and nested messages (such as PrefixRoute).
func Walk(e *keywayv1.Engine, fn func(*keywayv1.Engine)) {
	m := e.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("kind"))
	if fd == nil {
		return
	}
	walkMessage(m.Get(fd).Message(), fn)
}

func walkMessage(m protoreflect.Message, fn func(*keywayv1.Engine)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		visit := func(mv protoreflect.Message) {
			if mv.Descriptor().FullName() == engineName {
				fn(mv.Interface().(*keywayv1.Engine))
				return
			}
			walkMessage(mv, fn)
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				visit(l.Get(i).Message())
			}
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					visit(mv.Message())
				}
				return true
			})
		default:
			visit(v.Message())
		}
		return true
	})
}
