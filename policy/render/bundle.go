package render

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// EntryFile is the file a directory bundle starts from.
const EntryFile = "main.star"

// LoadBundle reads a policy bundle from disk. path is either a directory,
// whose .star files (at any depth, hidden directories skipped) form the
// bundle with main.star as the entry, or a single .star file, which is
// then the whole bundle and its entry. Files are keyed by slash-separated
// paths relative to the directory. Files and bundles over
// DefaultMaxSourceBytes are refused before they are read whole.
func LoadBundle(path string) (*keywayv1.Bundle, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load bundle: %w", err)
	}
	if !info.IsDir() {
		data, err := readLimited(path, info.Size(), DefaultMaxSourceBytes)
		if err != nil {
			return nil, err
		}
		name := filepath.Base(path)
		return &keywayv1.Bundle{Entry: name, Files: map[string][]byte{name: data}}, nil
	}
	b := &keywayv1.Bundle{Entry: EntryFile, Files: map[string][]byte{}}
	total := int64(0)
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(d.Name(), ".star") || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		total += fi.Size()
		if total > DefaultMaxSourceBytes {
			return fmt.Errorf("bundle %s is over the %d-byte limit", path, DefaultMaxSourceBytes)
		}
		data, err := readLimited(p, fi.Size(), DefaultMaxSourceBytes)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(path, p)
		if err != nil {
			return err
		}
		b.Files[filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load bundle: %w", err)
	}
	if _, ok := b.Files[EntryFile]; !ok {
		return nil, fmt.Errorf("load bundle: %s has no %s", path, EntryFile)
	}
	return b, nil
}

// readLimited reads a file after checking its size, so an oversized file
// is refused without being held in memory.
func readLimited(p string, size int64, limit int) ([]byte, error) {
	if size > int64(limit) {
		return nil, fmt.Errorf("load bundle: %s is %d bytes, over the %d-byte limit", p, size, limit)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("load bundle: %w", err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("load bundle: %s is over the %d-byte limit", p, limit)
	}
	return data, nil
}

// checkBundle refuses bundles the interpreter should never see: a missing
// entry, paths that are not clean relative slash paths, and sources over
// the size limit.
func checkBundle(b *keywayv1.Bundle, limit int) error {
	if b == nil || len(b.GetFiles()) == 0 {
		return Errors{{Msg: "bundle has no files"}}
	}
	names := make([]string, 0, len(b.GetFiles()))
	total := 0
	for name, data := range b.GetFiles() {
		names = append(names, name)
		total += len(data)
	}
	sort.Strings(names)
	var errs Errors
	for _, name := range names {
		if !validPath(name) {
			errs = append(errs, &Error{Msg: fmt.Sprintf("bundle file %q: want a relative slash path like \"lib/common.star\"", name)})
		}
	}
	if total > limit {
		errs = append(errs, &Error{Msg: fmt.Sprintf("bundle sources are %d bytes, over the %d-byte limit", total, limit)})
	}
	if _, ok := b.GetFiles()[b.GetEntry()]; !ok {
		errs = append(errs, &Error{Msg: fmt.Sprintf("bundle entry %q is not one of its files", b.GetEntry())})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// validPath reports whether name is a clean, relative, slash-separated
// path that stays inside the bundle.
func validPath(name string) bool {
	return fs.ValidPath(name) && name != "." && !strings.Contains(name, `\`) && path.Clean(name) == name
}
