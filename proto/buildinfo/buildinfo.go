// Package buildinfo holds the version, commit and build date of a Keyway
// binary. The Makefile stamps them with -ldflags:
//
//	-X keyway.dev/proto/buildinfo.version=$(git describe --always --dirty)
//	-X keyway.dev/proto/buildinfo.commit=$(git rev-parse HEAD)
//	-X keyway.dev/proto/buildinfo.date=2026-01-02T15:04:05Z
//
// A binary built without them (go build, go test, a tree without git)
// reports "dev" and, when the go command recorded one, the VCS revision.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by the linker; see the package comment.
var (
	version string
	commit  string
	date    string
)

// Info describes one build. Its JSON form is what `keyway version -o json`
// prints.
type Info struct {
	// Version is `git describe --always --dirty` at build time, or "dev".
	Version string `json:"version"`
	// Commit is the full commit hash, or "" when unknown.
	Commit string `json:"commit"`
	// Date is the build time in RFC 3339, UTC, or "" when unknown.
	Date string `json:"date"`
	// Go is the toolchain that built the binary.
	Go string `json:"go"`
}

// Get returns this binary's build information.
func Get() Info {
	i := Info{Version: version, Commit: commit, Date: date, Go: runtime.Version()}
	if i.Version == "" {
		i.Version = "dev"
	}
	if i.Commit == "" || i.Date == "" {
		vcsCommit, vcsTime, dirty := fromGo()
		if i.Commit == "" {
			i.Commit = vcsCommit
			if dirty && vcsCommit != "" && version == "" {
				i.Version = "dev-dirty"
			}
		}
		if i.Date == "" {
			i.Date = vcsTime
		}
	}
	return i
}

// String is the one-line form `--version` prints, for example
// "keyway-proxy v0.3.0-4-gabc1234 (commit abc1234…, built 2026-01-02T15:04:05Z, go1.26.0)".
func (i Info) String() string {
	c := i.Commit
	if c == "" {
		c = "unknown"
	}
	d := i.Date
	if d == "" {
		d = "unknown"
	}
	return fmt.Sprintf("%s (commit %s, built %s, %s)", i.Version, c, d, i.Go)
}

// Line is what `PROGRAM --version` prints: the program name and String.
func Line(program string) string { return program + " " + Get().String() }

// fromGo reads what the go command records when it builds inside a VCS
// checkout without -buildvcs=false.
func fromGo() (revision, time string, dirty bool) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "", "", false
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.time":
			time = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	return revision, time, dirty
}
