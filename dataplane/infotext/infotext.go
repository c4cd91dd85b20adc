// Package infotext reads and writes the text of Redis's INFO reply:
// sections headed "# Name", each a list of "key:value" lines, sections
// separated by an empty line. The proxy rewrites INFO (merging a
// cluster's nodes, adding its own sections), and must give back text
// that every tool parsing Redis's INFO still reads.
package infotext

import (
	"strings"
)

// Line is one "key:value" line; a line without a colon keeps its text in
// Key, with Bare set.
type Line struct {
	Key, Value string
	Bare       bool
}

// Section is one "# Name" section in the order Redis printed it.
type Section struct {
	Name  string
	Lines []Line
}

// Info is a whole INFO text.
type Info struct {
	Sections []*Section
}

// Parse reads INFO text. Lines before any header go into a section with
// no name, so nothing is lost.
func Parse(text string) *Info {
	info := &Info{}
	var cur *Section
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		if name, ok := strings.CutPrefix(line, "# "); ok {
			cur = &Section{Name: name}
			info.Sections = append(info.Sections, cur)
			continue
		}
		if cur == nil {
			cur = &Section{}
			info.Sections = append(info.Sections, cur)
		}
		k, v, ok := strings.Cut(line, ":")
		cur.Lines = append(cur.Lines, Line{Key: k, Value: v, Bare: !ok})
	}
	return info
}

// Section returns the section called name (any case), or nil.
func (i *Info) Section(name string) *Section {
	for _, s := range i.Sections {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// Ensure returns the section called name, adding it empty, after the
// section called after (or at the end when after is absent), when there
// is none.
func (i *Info) Ensure(name, after string) *Section {
	if s := i.Section(name); s != nil {
		return s
	}
	s := &Section{Name: name}
	at := len(i.Sections)
	for k, x := range i.Sections {
		if strings.EqualFold(x.Name, after) {
			at = k + 1
		}
	}
	i.Sections = append(i.Sections[:at], append([]*Section{s}, i.Sections[at:]...)...)
	return s
}

// Remove drops the section called name.
func (i *Info) Remove(name string) {
	for k, s := range i.Sections {
		if strings.EqualFold(s.Name, name) {
			i.Sections = append(i.Sections[:k], i.Sections[k+1:]...)
			return
		}
	}
}

// Get returns the value of key.
func (s *Section) Get(key string) (string, bool) {
	for _, l := range s.Lines {
		if l.Key == key {
			return l.Value, true
		}
	}
	return "", false
}

// Set replaces the value of key, or appends the line.
func (s *Section) Set(key, value string) {
	for k := range s.Lines {
		if s.Lines[k].Key == key {
			s.Lines[k].Value = value
			return
		}
	}
	s.Lines = append(s.Lines, Line{Key: key, Value: value})
}

// String writes the text as Redis does: "\r\n" after every line and an
// empty line between sections.
func (i *Info) String() string {
	var b strings.Builder
	for k, s := range i.Sections {
		if k > 0 {
			b.WriteString("\r\n")
		}
		if s.Name != "" {
			b.WriteString("# ")
			b.WriteString(s.Name)
			b.WriteString("\r\n")
		}
		for _, l := range s.Lines {
			b.WriteString(l.Key)
			if !l.Bare {
				b.WriteByte(':')
				b.WriteString(l.Value)
			}
			b.WriteString("\r\n")
		}
	}
	return b.String()
}
