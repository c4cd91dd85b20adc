package clitest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Renderer is a stand-in for the Starlark renderer with a tiny line
// format, so command tests do not depend on the policy language:
//
//	upstream NAME
//	domain NAME
//	test NAME         -> a case; RunTests fails it when NAME starts with "fail"
//	error MESSAGE     -> FILE:LINE:COL: MESSAGE, COL being where MESSAGE starts
//
// Lines starting with # are ignored.
type Renderer struct{}

// LoadBundle reads a .star file, or every .star file of a directory with
// main.star as the entry.
func (Renderer) LoadBundle(path string) (*keywayv1.Bundle, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load bundle: %w", err)
	}
	if !info.IsDir() {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("load bundle: %w", err)
		}
		name := filepath.Base(path)
		return &keywayv1.Bundle{Entry: name, Files: map[string][]byte{name: data}}, nil
	}
	names, err := filepath.Glob(filepath.Join(path, "*.star"))
	if err != nil {
		return nil, fmt.Errorf("load bundle: %w", err)
	}
	b := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{}}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("load bundle: %w", err)
		}
		b.Files[filepath.Base(n)] = data
	}
	return b, nil
}

// Render interprets every file of the bundle in name order.
func (Renderer) Render(_ context.Context, b *keywayv1.Bundle) (*keywayv1.Policy, error) {
	names := make([]string, 0, len(b.GetFiles()))
	for n := range b.GetFiles() {
		names = append(names, n)
	}
	sort.Strings(names)
	pol := &keywayv1.Policy{}
	var errs []error
	for _, name := range names {
		sc := bufio.NewScanner(bytes.NewReader(b.GetFiles()[name]))
		for line := 1; sc.Scan(); line++ {
			text := sc.Text()
			word, arg, _ := strings.Cut(strings.TrimSpace(text), " ")
			switch word {
			case "upstream":
				pol.Upstreams = append(pol.Upstreams, &keywayv1.Upstream{Name: arg})
			case "domain":
				pol.Domains = append(pol.Domains, &keywayv1.DomainPolicy{Name: arg})
			case "test":
				pol.Tests = append(pol.Tests, &keywayv1.PolicyTest{Name: arg, Source: fmt.Sprintf("%s:%d:1", name, line)})
			case "error":
				errs = append(errs, fmt.Errorf("%s:%d:%d: %s", name, line, strings.Index(text, arg)+1, arg))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return pol, nil
}
