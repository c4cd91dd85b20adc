package admin

import (
	"fmt"
	"strings"
)

// diffContext is how many unchanged lines surround each change in a hunk.
const diffContext = 3

// maxLCSCells bounds the LCS table; beyond it the changed middle of the
// two texts is shown as one replacement rather than aligned line by line.
const maxLCSCells = 1 << 21

// edit is one line of an edit script: ' ' kept, '-' deleted from a, '+'
// inserted from b. ai and bi count the lines of a and b before it.
type edit struct {
	op     byte
	line   string
	ai, bi int
}

// unifiedDiff returns a unified diff of a and b with headers naming them,
// or "" when they are equal.
func unifiedDiff(aName, bName, a, b string) string {
	edits := lineEdits(splitLines(a), splitLines(b))
	var out strings.Builder
	prevEnd := 0
	for i := 0; i < len(edits); {
		for i < len(edits) && edits[i].op == ' ' {
			i++
		}
		if i == len(edits) {
			break
		}
		if out.Len() == 0 {
			fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
		}
		start := max(i-diffContext, prevEnd)
		end := i
		for j := i; j < len(edits); j++ {
			if edits[j].op != ' ' {
				end = j + 1
			} else if j-end >= 2*diffContext {
				break
			}
		}
		end = min(end+diffContext, len(edits))
		writeHunk(&out, edits[start:end])
		i, prevEnd = end, end
	}
	return out.String()
}

func writeHunk(out *strings.Builder, h []edit) {
	var na, nb int
	for _, e := range h {
		if e.op != '+' {
			na++
		}
		if e.op != '-' {
			nb++
		}
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", hunkRange(h[0].ai, na), hunkRange(h[0].bi, nb))
	for _, e := range h {
		out.WriteByte(e.op)
		out.WriteString(e.line)
		out.WriteByte('\n')
	}
}

// hunkRange formats "start,count" the way diff -u does: 1-based, and an
// empty range names the line before it.
func hunkRange(before, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", before)
	}
	return fmt.Sprintf("%d,%d", before+1, n)
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// lineEdits aligns a and b on a longest common subsequence of lines,
// after trimming their common prefix and suffix.
func lineEdits(a, b []string) []edit {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	out := make([]edit, 0, len(a)+len(b))
	ai, bi := 0, 0
	keep := func() { out = append(out, edit{' ', a[ai], ai, bi}); ai++; bi++ }
	del := func() { out = append(out, edit{'-', a[ai], ai, bi}); ai++ }
	ins := func() { out = append(out, edit{'+', b[bi], ai, bi}); bi++ }

	for range pre {
		keep()
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	if len(ma)*len(mb) > maxLCSCells {
		for range ma {
			del()
		}
		for range mb {
			ins()
		}
	} else {
		// lcs[i][j] is the LCS length of ma[i:] and mb[j:].
		w := len(mb) + 1
		lcs := make([]int32, (len(ma)+1)*w)
		for i := len(ma) - 1; i >= 0; i-- {
			for j := len(mb) - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				} else {
					lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(ma) && j < len(mb) {
			switch {
			case ma[i] == mb[j]:
				keep()
				i++
				j++
			case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
				del()
				i++
			default:
				ins()
				j++
			}
		}
		for ; i < len(ma); i++ {
			del()
		}
		for ; j < len(mb); j++ {
			ins()
		}
	}
	for range suf {
		keep()
	}
	return out
}
