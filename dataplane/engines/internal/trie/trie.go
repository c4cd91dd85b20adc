// Package trie finds the longest of a fixed set of byte-string prefixes
// that starts a key, walking the key once and allocating nothing: the
// per-request lookup of the route and reject engines.
package trie

import "fmt"

// Trie is an immutable prefix set; safe for concurrent use.
type Trie struct {
	nodes []node
}

// node is one trie state. Edges are kept sorted so lookups can binary
// search wide nodes; most nodes have one edge.
type node struct {
	labels []byte
	next   []int32
	value  int32 // index of the prefix ending here, or -1
}

// New returns a trie of prefixes; Longest reports matches by their index
// in prefixes. Duplicates are an error, since the second could never win.
func New(prefixes []string) (*Trie, error) {
	t := &Trie{nodes: []node{{value: -1}}}
	for i, p := range prefixes {
		n := int32(0)
		for j := 0; j < len(p); j++ {
			n = t.child(n, p[j])
		}
		if t.nodes[n].value >= 0 {
			return nil, fmt.Errorf("prefix %q listed twice", p)
		}
		t.nodes[n].value = int32(i)
	}
	return t, nil
}

// child returns the node after edge c from n, adding it if needed.
func (t *Trie) child(n int32, c byte) int32 {
	nd := &t.nodes[n]
	i := 0
	for i < len(nd.labels) && nd.labels[i] < c {
		i++
	}
	if i < len(nd.labels) && nd.labels[i] == c {
		return nd.next[i]
	}
	id := int32(len(t.nodes))
	nd.labels = append(nd.labels[:i], append([]byte{c}, nd.labels[i:]...)...)
	nd.next = append(nd.next[:i], append([]int32{id}, nd.next[i:]...)...)
	t.nodes = append(t.nodes, node{value: -1})
	return id
}

// Longest returns the index of the longest prefix that starts key, or -1.
func (t *Trie) Longest(key []byte) int {
	best := t.nodes[0].value
	n := int32(0)
	for _, c := range key {
		n = t.step(n, c)
		if n < 0 {
			break
		}
		if v := t.nodes[n].value; v >= 0 {
			best = v
		}
	}
	return int(best)
}

// Empty reports whether the trie holds no prefix.
func (t *Trie) Empty() bool { return len(t.nodes) == 1 && t.nodes[0].value < 0 }

func (t *Trie) step(n int32, c byte) int32 {
	nd := &t.nodes[n]
	labels := nd.labels
	if len(labels) <= 8 {
		for i, l := range labels {
			if l == c {
				return nd.next[i]
			}
		}
		return -1
	}
	lo, hi := 0, len(labels)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if labels[m] < c {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(labels) && labels[lo] == c {
		return nd.next[lo]
	}
	return -1
}
