package all

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	"keyway.dev/dataplane/engines/failover"
	"keyway.dev/dataplane/engines/keywaycmd"
	"keyway.dev/dataplane/engines/mirror"
	"keyway.dev/dataplane/engines/ratelimit"
	"keyway.dev/dataplane/engines/reject"
	"keyway.dev/policy/kinds"
	"keyway.dev/policy/render"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestDefaultsAgree holds each default a policy may leave out to one
// value in four places: what the constructor renders for an omitted
// argument (the value itself, or the unset field), what the builder
// applies to an unset field, the "(default ...)" the proto field's
// comment promises, and the kind's reference signature. A default
// changed in one place and not the others fails here.
func TestDefaultsAgree(t *testing.T) {
	proto, err := os.ReadFile("../../../proto/keyway/v1/engine.proto")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind    string // the Engine oneof field
		call    string // the smallest call leaving field out; a is an upstream
		field   string
		want    string // the default, as formatted by show
		builder string // the builder's default, as formatted by show
		proto   string // what the field's comment says, "" when it says nothing
		doc     string // what the reference signature says
	}{
		{"failover", `failover([a, a])`, "failure_threshold", "5",
			fmt.Sprint(failover.DefaultFailureThreshold), "(default 5)", "failure_threshold=5"},
		{"failover", `failover([a, a])`, "cooldown", "5s",
			failover.DefaultCooldown.String(), "(default 5s)", `cooldown="5s"`},
		{"mirror", `mirror(a, a)`, "sample", "1",
			fmt.Sprint(kinds.MirrorDefaultSample), "(default 1)", "sample=1.0"},
		{"mirror", `mirror(a, a)`, "queue", "1024",
			fmt.Sprint(mirror.DefaultQueue), "(default 1024)", "queue=1024"},
		{"ratelimit", `ratelimit(a, ops_per_second = 1)`, "burst_seconds", "1",
			fmt.Sprint(ratelimit.DefaultBurstSeconds), "(default 1)", "burst_seconds=1"},
		{"ratelimit", `ratelimit(a, ops_per_second = 1, mode = "delay")`, "max_delay", "100ms",
			ratelimit.DefaultMaxDelay.String(), "(default 100ms)", "default\n`\"100ms\"`"},
		{"commands", `commands(a, locks = a)`, "lock_prefix", `"keyway:lock:"`,
			fmt.Sprintf("%q", keywaycmd.DefaultLockPrefix), `(default "keyway:lock:")`, `lock_prefix="keyway:lock:"`},
		{"reject", `reject(a, commands = ["KEYS"])`, "message", `"command refused by policy"`,
			fmt.Sprintf("%q", reject.DefaultMessage), `(default "command refused by policy")`, `message="command refused by policy"`},
	}
	// Every default engine.proto promises for a kind's field is a row.
	listed := map[string]bool{}
	for _, tt := range tests {
		listed[tt.kind+"."+tt.field] = true
	}
	kindsOf := (&keywayv1.Engine{}).ProtoReflect().Descriptor().Oneofs().ByName("kind").Fields()
	for i := range kindsOf.Len() {
		k := kindsOf.Get(i)
		fields := k.Message().Fields()
		for j := range fields.Len() {
			f := fields.Get(j)
			c := fieldComment(string(proto), string(k.Message().Name()), string(f.Name()))
			if strings.Contains(c, "(default ") && !listed[string(k.Name())+"."+string(f.Name())] {
				t.Errorf("engine.proto promises %s.%s a default (%q); add a row to this table", k.Message().Name(), f.Name(), c)
			}
		}
	}
	for _, tt := range tests {
		t.Run(tt.kind+"."+tt.field, func(t *testing.T) {
			msg := renderOne(t, tt.kind, tt.call)
			fd := msg.Descriptor().Fields().ByName(protoreflect.Name(tt.field))
			if fd == nil {
				t.Fatalf("%s has no field %s", msg.Descriptor().FullName(), tt.field)
			}
			if msg.Has(fd) {
				if got := show(fd, msg.Get(fd)); got != tt.want {
					t.Errorf("render writes %s = %s for an omitted argument, want %s", tt.field, got, tt.want)
				}
			} // else the builder's default applies, checked next
			if tt.builder != tt.want {
				t.Errorf("the builder applies %s = %s to an unset field, want %s", tt.field, tt.builder, tt.want)
			}
			comment := fieldComment(string(proto), string(msg.Descriptor().Name()), tt.field)
			if tt.proto != "" && !strings.Contains(comment, tt.proto) {
				t.Errorf("engine.proto's comment on %s.%s is %q, want it to say %s", msg.Descriptor().Name(), tt.field, comment, tt.proto)
			}
			if tt.proto == "" && strings.Contains(comment, "(default") {
				t.Errorf("engine.proto's comment on %s.%s states a default (%q); add it to this table", msg.Descriptor().Name(), tt.field, comment)
			}
			ref, err := os.ReadFile("../../../policy/kinds/" + tt.kind + ".md")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(ref), tt.doc) {
				t.Errorf("policy/kinds/%s.md does not say %s", tt.kind, tt.doc)
			}
		})
	}
}

// renderOne renders call as a domain's root and returns its kind's
// message.
func renderOne(t *testing.T, kind, call string) protoreflect.Message {
	t.Helper()
	src := "a = redis(\"main\", \"127.0.0.1:1\")\ndomain(\"default\", " + call + ")\n"
	pol, err := render.Render(context.Background(), &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(src)}}, render.Options{})
	if err != nil {
		t.Fatalf("render %s: %v", call, err)
	}
	root := pol.GetDomains()[0].GetRoot().ProtoReflect()
	f := root.WhichOneof(root.Descriptor().Oneofs().ByName("kind"))
	if f == nil || string(f.Name()) != kind {
		t.Fatalf("%s rendered %v, want a %s", call, f, kind)
	}
	return root.Get(f).Message()
}

// show formats a field's value as the table writes defaults.
func show(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch {
	case fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Duration":
		return v.Message().Interface().(*durationpb.Duration).AsDuration().String()
	case fd.Kind() == protoreflect.StringKind:
		return fmt.Sprintf("%q", v.String())
	}
	return fmt.Sprint(v.Interface())
}

// fieldComment returns the // comment lines right above field in
// message's body in the proto source.
func fieldComment(src, message, field string) string {
	start := strings.Index(src, "message "+message+" {")
	if start < 0 {
		return ""
	}
	body := src[start:]
	if end := strings.Index(body, "\n}"); end >= 0 {
		body = body[:end]
	}
	lines := strings.Split(body, "\n")
	decl := regexp.MustCompile(`^\s*[\w.]+\s+` + regexp.QuoteMeta(field) + `\s*=\s*\d+;`)
	for i, line := range lines {
		if !decl.MatchString(line) {
			continue
		}
		var comment []string
		for j := i - 1; j >= 0 && strings.HasPrefix(strings.TrimSpace(lines[j]), "//"); j-- {
			comment = append([]string{strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[j]), "//"))}, comment...)
		}
		return strings.Join(comment, " ")
	}
	return ""
}
