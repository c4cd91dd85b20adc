package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// WriteProto prints m as JSON with the proto field names and every field
// present, like protojson, except that 64-bit integers are JSON numbers:
// protojson writes them as strings (JavaScript cannot hold them), which
// makes `jq '.x > 5'` silently wrong. Keys come out sorted.
func WriteProto(w io.Writer, m proto.Message) error {
	raw, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("decode json: %w", err)
	}
	numbers(v, m.ProtoReflect().Descriptor())
	return WriteJSON(w, v)
}

// numbers turns the 64-bit integers of v, the protojson form of a message
// of type md, from strings into json.Number.
func numbers(v any, md protoreflect.MessageDescriptor) {
	obj, ok := v.(map[string]any)
	if !ok || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return
	}
	for key, val := range obj {
		fd := md.Fields().ByName(protoreflect.Name(key))
		if fd == nil {
			continue
		}
		switch {
		case fd.IsMap():
			m, _ := val.(map[string]any)
			for k, e := range m {
				m[k] = field(e, fd.MapValue())
			}
		case fd.IsList():
			l, _ := val.([]any)
			for i, e := range l {
				l[i] = field(e, fd)
			}
		default:
			obj[key] = field(val, fd)
		}
	}
}

// field converts one value of fd's kind.
func field(v any, fd protoreflect.FieldDescriptor) any {
	switch fd.Kind() {
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if s, ok := v.(string); ok {
			return json.Number(s)
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		numbers(v, fd.Message())
	}
	return v
}
