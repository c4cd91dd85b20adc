// Command keyway-image writes Keyway's container images as an OCI image
// layout from the static binaries `make image` builds, with no container
// daemon and no registry (package image).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"

	"keyway.dev/deploy/image"
)

func main() {
	fs := flag.NewFlagSet("keyway-image", flag.ContinueOnError)
	bin := fs.String("bin", "", "directory of the static binaries keyway-control, keyway-proxy and keyway")
	out := fs.String("out", "", "OCI layout directory to write (created, or appended to)")
	ca := fs.String("ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM CA bundle installed as the images' system roots")
	version := fs.String("version", "", "image version (the binaries' stamped version)")
	commit := fs.String("commit", "", "commit the binaries were built from")
	created := fs.String("created", "", "build time, RFC 3339; dates every file so one input gives one digest")
	source := fs.String("source", "", "repository URL for the org.opencontainers.image.source label")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	digests, err := image.Build(image.Options{BinDir: *bin, Out: *out, CABundle: *ca, Version: *version, Commit: *commit, Created: *created, Source: *source})
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyway-image:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(digests))
	for n := range digests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("%s:%s %s\n", n, *version, digests[n])
	}
}
