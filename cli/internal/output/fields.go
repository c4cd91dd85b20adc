package output

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Field is one documented field of a command's -o json output.
type Field struct {
	// Path names the field from the top: "versions[].name", "sources.*".
	Path string
	// Type is the JSON type: string, number, boolean, object, array, any.
	Type string
	// Optional fields may be absent; nullable ones may be null.
	Optional, Nullable bool
}

// Fields lists the JSON fields of sample, a value of the type a command
// prints with WriteJSON (json tags) or WriteProto (proto names), depth
// first in declaration order.
func Fields(sample any) []Field {
	var out []Field
	if m, ok := sample.(proto.Message); ok {
		protoFields(&out, "", m.ProtoReflect().Descriptor(), 0)
		return out
	}
	goFields(&out, "", reflect.TypeOf(sample), 0)
	return out
}

// WriteFields prints the fields of each shape, "-- or --" between shapes.
func WriteFields(w io.Writer, shapes []any) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for i, s := range shapes {
		if i > 0 {
			fmt.Fprintln(tw, "  -- or --")
		}
		for _, f := range Fields(s) {
			t := f.Type
			if f.Nullable {
				t += " or null"
			}
			if f.Optional {
				t += ", optional"
			}
			fmt.Fprintf(tw, "  %s\t%s\n", f.Path, t)
		}
	}
	tw.Flush()
}

// maxDepth stops a recursive type from recursing forever.
const maxDepth = 8

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func goFields(out *[]Field, prefix string, t reflect.Type, depth int) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || depth > maxDepth {
		return
	}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			goFields(out, prefix, sf.Type, depth)
			continue
		}
		if name == "" {
			name = sf.Name
		}
		ft := sf.Type
		f := Field{Path: join(prefix, name), Optional: strings.Contains(opts, "omitempty")}
		switch ft.Kind() {
		case reflect.Pointer, reflect.Interface:
			f.Nullable = !f.Optional
		case reflect.Slice, reflect.Map:
			// encoding/json writes a nil slice or map as null.
			f.Nullable = false
		}
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		f.Type = goType(ft)
		*out = append(*out, f)
		switch f.Type {
		case "object":
			if ft.Kind() == reflect.Map {
				goElem(out, f.Path+".*", ft.Elem(), depth+1)
			} else {
				goFields(out, f.Path, ft, depth+1)
			}
		case "array":
			goElem(out, f.Path+"[]", ft.Elem(), depth+1)
		}
	}
}

// goElem documents the element type of an array or map when it is a
// structure; scalar elements are named in the parent's type.
func goElem(out *[]Field, path string, t reflect.Type, depth int) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		goFields(out, path, t, depth)
	}
}

func goType(t reflect.Type) string {
	if t.Implements(reflect.TypeFor[proto.Message]()) || reflect.PointerTo(t).Implements(reflect.TypeFor[proto.Message]()) {
		return "object"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		if e := goType(t.Elem()); e != "object" && e != "array" && e != "any" {
			return "array of " + e
		}
		return "array"
	case reflect.Map:
		if e := goType(t.Elem()); e != "object" && e != "array" && e != "any" {
			return "object of " + e
		}
		return "object"
	case reflect.Struct:
		return "object"
	}
	return "any"
}

func protoFields(out *[]Field, prefix string, md protoreflect.MessageDescriptor, depth int) {
	if depth > maxDepth {
		return
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		f := Field{Path: join(prefix, string(fd.Name()))}
		switch {
		case fd.IsMap():
			f.Type = "object"
			if e := protoType(fd.MapValue()); e != "object" {
				f.Type = "object of " + e
			}
		case fd.IsList():
			f.Type = "array"
			if e := protoType(fd); e != "object" {
				f.Type = "array of " + e
			}
		default:
			f.Type = protoType(fd)
			// protojson writes an unset message field as null.
			f.Nullable = f.Type == "object" || (fd.Kind() == protoreflect.MessageKind && f.Type == "string")
		}
		*out = append(*out, f)
		switch {
		case fd.IsMap():
			if protoType(fd.MapValue()) == "object" {
				protoFields(out, f.Path+".*", fd.MapValue().Message(), depth+1)
			}
		case fd.Kind() == protoreflect.MessageKind && protoType(fd) == "object":
			path := f.Path
			if fd.IsList() {
				path += "[]"
			}
			protoFields(out, path, fd.Message(), depth+1)
		}
	}
}

// protoType is the JSON type protojson (with WriteProto's numbers) uses
// for one value of fd.
func protoType(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "boolean"
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.EnumKind:
		return "string"
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp", "google.protobuf.Duration":
			return "string"
		}
		return "object"
	}
	return "number"
}
