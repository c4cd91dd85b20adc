package kinds

import (
	"bytes"
	"embed"
	"fmt"
	"regexp"
	"strings"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

//go:generate go run ./internal/genreference -doc ../../docs/policy-language.md

// Each engine kind's section of the language reference is the file
// <kind>.md here, next to its rules; docs/policy-language.md holds them
// between markers, assembled by Assemble in the order of the Engine
// oneof.
//
//go:embed *.md
var sections embed.FS

// The markers around the assembled regions of the reference.
const (
	sectionsBegin = "<!-- engine kinds: assembled from policy/kinds/<kind>.md by `go generate ./policy/kinds`; edit those files, not this region -->"
	sectionsEnd   = "<!-- end of engine kinds -->"
	contentsBegin = "<!-- engine kinds contents: assembled by `go generate ./policy/kinds` -->"
	contentsEnd   = "<!-- end of engine kinds contents -->"
)

// Kinds lists the engine kinds, the field names of the Engine oneof, in
// declaration order.
func Kinds() []string {
	fields := (&keywayv1.Engine{}).ProtoReflect().Descriptor().Oneofs().ByName("kind").Fields()
	out := make([]string, fields.Len())
	for i := range out {
		out[i] = string(fields.Get(i).Name())
	}
	return out
}

// Doc returns kind's section of the language reference.
func Doc(kind string) (string, error) {
	b, err := sections.ReadFile(kind + ".md")
	if err != nil {
		return "", fmt.Errorf("kinds: no reference section for %q: %w", kind, err)
	}
	return string(b), nil
}

// Assemble returns doc, the language reference, with its engine kinds'
// sections and their line of the contents rebuilt from the kinds' files.
func Assemble(doc []byte) ([]byte, error) {
	var body strings.Builder
	var links []string
	for i, k := range Kinds() {
		sec, err := Doc(k)
		if err != nil {
			return nil, err
		}
		heading, _, _ := strings.Cut(sec, "\n")
		title, ok := strings.CutPrefix(heading, "### ")
		if !ok {
			return nil, fmt.Errorf("kinds: %s.md must start with a \"### \" heading, got %q", k, heading)
		}
		if i > 0 {
			body.WriteString("\n")
		}
		body.WriteString(sec)
		links = append(links, fmt.Sprintf("[%s](#%s)", title, slug(title)))
	}
	out, err := replaceBetween(doc, sectionsBegin, sectionsEnd, body.String())
	if err != nil {
		return nil, err
	}
	return replaceBetween(out, contentsBegin, contentsEnd, wrap("- Engines: ", links, 80, "  ")+"\n")
}

// replaceBetween puts repl between the lines begin and end of doc.
func replaceBetween(doc []byte, begin, end, repl string) ([]byte, error) {
	i := bytes.Index(doc, []byte(begin+"\n"))
	j := bytes.Index(doc, []byte(end))
	if i < 0 || j < i {
		return nil, fmt.Errorf("kinds: the reference lacks the markers %q and %q", begin, end)
	}
	i += len(begin) + 1
	var out bytes.Buffer
	out.Write(doc[:i])
	out.WriteString(repl)
	out.Write(doc[j:])
	return out.Bytes(), nil
}

var notSlug = regexp.MustCompile(`[^a-z0-9 _-]`)

// slug is GitHub's anchor for a heading.
func slug(title string) string {
	return strings.ReplaceAll(notSlug.ReplaceAllString(strings.ToLower(title), ""), " ", "-")
}

// wrap writes prefix and items joined by ", " in lines of at most width
// where it can, continuation lines starting with indent; an item is never
// broken.
func wrap(prefix string, items []string, width int, indent string) string {
	var out strings.Builder
	line := prefix
	for i, it := range items {
		if i < len(items)-1 {
			it += ","
		}
		switch {
		case line == prefix:
			line += it
		case len(line)+1+len(it) > width:
			out.WriteString(line + "\n")
			line = indent + it
		default:
			line += " " + it
		}
	}
	out.WriteString(line)
	return out.String()
}
