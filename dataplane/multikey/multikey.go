// Package multikey scatters a multi-key command whose keys live in several
// places (children of a route, slots of a Redis Cluster) as one
// sub-command per place, and gathers the sub-replies into the reply the
// client would have had from a single Redis. (The engine kind "split" is
// something else: it sends whole requests to one child by weight.)
//
// It knows only the commands whose result is the same whether or not they
// are scattered: MGET (values in the client's order), MSET (all OK), and DEL,
// UNLINK, EXISTS and TOUCH (counts summed). Anything else that spans
// several places cannot be made to look atomic and must be refused by the
// caller (CROSSSLOT).
package multikey

import (
	"bytes"
	"errors"
	"fmt"

	"keyway.dev/dataplane/resp"
)

// Merge says how the sub-replies of a scattered command combine.
type Merge uint8

// Merge kinds.
const (
	// MergeNone marks a command multikey cannot scatter.
	MergeNone Merge = iota
	// MergeValues joins array replies, one element per key, in the
	// client's key order (MGET).
	MergeValues
	// MergeOK answers +OK when every part did, else the first error (MSET).
	MergeOK
	// MergeSum adds integer replies (DEL, UNLINK, EXISTS, TOUCH).
	MergeSum
)

// String names m for errors and explain.
func (m Merge) String() string {
	switch m {
	case MergeValues:
		return "values"
	case MergeOK:
		return "ok"
	case MergeSum:
		return "sum"
	}
	return "none"
}

// kind describes a command multikey can scatter: how it merges and how many
// arguments make one key's share (2 for MSET's key value pairs).
type kind struct {
	merge Merge
	width int
}

var kinds = [...]struct {
	name string
	kind kind
}{
	{"MGET", kind{MergeValues, 1}},
	{"MSET", kind{MergeOK, 2}},
	{"DEL", kind{MergeSum, 1}},
	{"UNLINK", kind{MergeSum, 1}},
	{"EXISTS", kind{MergeSum, 1}},
	{"TOUCH", kind{MergeSum, 1}},
}

// lookup finds cmd's kind by its resolved name, or by its first argument
// when the command table did not resolve it.
func lookup(cmd *resp.Command) (kind, bool) {
	if len(cmd.Args) == 0 {
		return kind{}, false
	}
	for _, k := range kinds {
		if cmd.Spec != nil {
			if cmd.Spec.Name == k.name {
				return k.kind, true
			}
			continue
		}
		if bytes.EqualFold(cmd.Args[0], []byte(k.name)) {
			return k.kind, true
		}
	}
	return kind{}, false
}

// Scatterable reports whether multikey can scatter cmd, and how its parts
// merge.
func Scatterable(cmd *resp.Command) (Merge, bool) {
	k, ok := lookup(cmd)
	return k.merge, ok
}

// ErrNotScatterable is returned for commands multikey does not know how
// to scatter (MSETNX, EVAL, SUNIONSTORE, ...).
var ErrNotScatterable = errors.New("command cannot be scattered")

// Part is one sub-command of a scattered command: the keys of one group.
type Part struct {
	// Group is the value group returned for the part's keys.
	Group int
	// Cmd is the sub-command; Args[0] is the client's command name and
	// Spec is the original's.
	Cmd resp.Command
	// Pos holds, for each key of the part in order, its index among the
	// original command's keys, so values can be put back in place.
	Pos []int
}

// Plan is how a command is scattered. A Plan can be reused by Build for
// another command; its parts are valid until then.
type Plan struct {
	// Merge is how the parts' replies combine.
	Merge Merge
	// Parts in the order their group first appears in the command.
	Parts []Part
	// Keys is the number of keys of the original command.
	Keys int

	args   [][]byte
	pos    []int
	counts []int
	index  map[int]int
	elems  [][]byte
}

// NewPlan groups cmd's keys by group and returns the plan. It is
// Plan.Build on a new Plan.
func NewPlan(cmd *resp.Command, group func(key []byte) int) (*Plan, error) {
	p := &Plan{}
	if err := p.Build(cmd, group); err != nil {
		return nil, err
	}
	return p, nil
}

// Build fills p with one part per distinct group of cmd's keys, reusing
// p's buffers. The sub-commands share cmd's argument bytes, so cmd must
// outlive the parts. A command with a single group yields a single part;
// callers that can serve cmd whole should check for that first.
func (p *Plan) Build(cmd *resp.Command, group func(key []byte) int) error {
	k, ok := lookup(cmd)
	if !ok {
		return fmt.Errorf("scatter %s: %w", name(cmd), ErrNotScatterable)
	}
	n := len(cmd.Args) - 1
	if n <= 0 || n%k.width != 0 {
		return fmt.Errorf("scatter %s: wrong number of arguments", name(cmd))
	}
	p.Merge = k.merge
	p.Keys = n / k.width
	p.Parts = p.Parts[:0]
	clear(p.index)

	// First pass: assign each key a part and count the part's keys, so
	// every sub-command's arguments can live in one shared slice.
	if cap(p.pos) < 2*p.Keys {
		p.pos = make([]int, 2*p.Keys)
	}
	which := p.pos[:p.Keys] // part of each key, until the second pass
	p.counts = p.counts[:0]
	for i := range p.Keys {
		g := group(cmd.Args[1+i*k.width])
		j := p.find(g)
		if j < 0 {
			j = len(p.Parts)
			p.Parts = append(p.Parts, Part{Group: g})
			p.counts = append(p.counts, 0)
			if len(p.Parts) > linearParts {
				p.indexPart(j)
			}
		}
		which[i] = j
		p.counts[j]++
	}

	// Second pass: lay out the arguments and positions.
	need := len(p.Parts) + n
	if cap(p.args) < need {
		p.args = make([][]byte, need)
	}
	args := p.args[:need]
	pos := p.pos[p.Keys : 2*p.Keys]
	off, poff := 0, 0
	for j := range p.Parts {
		part := &p.Parts[j]
		part.Cmd = resp.Command{Args: args[off : off+1 : off+1+p.counts[j]*k.width], Spec: cmd.Spec}
		part.Cmd.Args[0] = cmd.Args[0]
		part.Pos = pos[poff : poff : poff+p.counts[j]]
		off += 1 + p.counts[j]*k.width
		poff += p.counts[j]
	}
	for i, j := range which {
		part := &p.Parts[j]
		part.Cmd.Args = append(part.Cmd.Args, cmd.Args[1+i*k.width:1+(i+1)*k.width]...)
		part.Pos = append(part.Pos, i)
	}
	return nil
}

// linearParts is how many parts are searched linearly before the plan
// builds an index; a route has a handful of children, a cluster
// thousands of slots.
const linearParts = 8

func (p *Plan) find(g int) int {
	if len(p.Parts) > linearParts {
		if j, ok := p.index[g]; ok {
			return j
		}
		return -1
	}
	for j := range p.Parts {
		if p.Parts[j].Group == g {
			return j
		}
	}
	return -1
}

// indexPart adds part j to the index, indexing every earlier part the
// first time.
func (p *Plan) indexPart(j int) {
	if p.index == nil {
		p.index = make(map[int]int, 2*len(p.Parts))
	}
	if j == linearParts {
		for i := range j {
			p.index[p.Parts[i].Group] = i
		}
	}
	p.index[p.Parts[j].Group] = j
}

func name(cmd *resp.Command) string {
	if cmd.Spec != nil {
		return cmd.Spec.Name
	}
	if len(cmd.Args) > 0 {
		return string(bytes.ToUpper(cmd.Args[0]))
	}
	return "command"
}
