// Package cmdtable reads a live redis-server's COMMAND reply and renders
// it as the Go command table of package resp. The generator program and
// the staleness test share it, so both read the server the same way.
package cmdtable

import (
	"fmt"
	"sort"
	"strings"

	"keyway.dev/dataplane/resp/internal/probe"
)

// Row is one command as COMMAND describes it (Redis 7 layout).
type Row struct {
	// Name in Redis's spelling: lower case, subcommands as "config|get".
	Name              string
	Arity             int
	Flags             []string
	First, Last, Step int
	ACL               []string // categories, "@read", "@dangerous", ...
	Subcommands       []Row
}

// Has reports whether the row carries the Redis flag f.
func (r *Row) Has(f string) bool {
	for _, x := range r.Flags {
		if x == f {
			return true
		}
	}
	return false
}

// InACL reports whether the row is in the ACL category c ("@dangerous").
func (r *Row) InACL(c string) bool {
	for _, x := range r.ACL {
		if x == c {
			return true
		}
	}
	return false
}

// Fetch runs COMMAND on c and returns every top-level command sorted by
// name, subcommands sorted within their container.
func Fetch(c *probe.Conn) ([]Row, error) {
	v, err := c.Do("COMMAND")
	if err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	return rows(v)
}

func rows(v any) ([]Row, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("command reply is %T, not an array", v)
	}
	out := make([]Row, 0, len(arr))
	for _, e := range arr {
		r, err := row(e)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func row(v any) (Row, error) {
	f, ok := v.([]any)
	if !ok || len(f) < 10 {
		return Row{}, fmt.Errorf("command entry %v: want an array of at least 10 fields (Redis 7)", v)
	}
	var r Row
	var err error
	if r.Name, err = str(f[0]); err != nil {
		return r, err
	}
	ints := []*int{&r.Arity, nil, &r.First, &r.Last, &r.Step}
	for i, p := range ints {
		if p == nil {
			continue
		}
		n, ok := f[1+i].(int64)
		if !ok {
			return r, fmt.Errorf("command %s: field %d is %T, not an integer", r.Name, 1+i, f[1+i])
		}
		*p = int(n)
	}
	if r.Flags, err = strs(f[2]); err != nil {
		return r, fmt.Errorf("command %s flags: %w", r.Name, err)
	}
	if r.ACL, err = strs(f[6]); err != nil {
		return r, fmt.Errorf("command %s acl categories: %w", r.Name, err)
	}
	if subs, ok := f[9].([]any); ok && len(subs) > 0 {
		if r.Subcommands, err = rows(subs); err != nil {
			return r, fmt.Errorf("command %s subcommands: %w", r.Name, err)
		}
	}
	return r, nil
}

func str(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%v is %T, not a string", v, v)
	}
	return s, nil
}

func strs(v any) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%v is %T, not an array", v, v)
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, err := str(e)
		if err != nil {
			return nil, err
		}
		out = append(out, strings.ToLower(s))
	}
	return out, nil
}
