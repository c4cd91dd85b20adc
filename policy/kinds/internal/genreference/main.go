// Command genreference rebuilds the engine kinds' region of the
// language reference from policy/kinds/<kind>.md (go generate
// ./policy/kinds).
package main

import (
	"flag"
	"log"
	"os"

	"keyway.dev/policy/kinds"
)

func main() {
	doc := flag.String("doc", "", "the language reference to rewrite in place")
	flag.Parse()
	if *doc == "" {
		log.Fatal("genreference: -doc is required")
	}
	in, err := os.ReadFile(*doc)
	if err != nil {
		log.Fatalf("genreference: %v", err)
	}
	out, err := kinds.Assemble(in)
	if err != nil {
		log.Fatalf("genreference: %v", err)
	}
	if err := os.WriteFile(*doc, out, 0o644); err != nil {
		log.Fatalf("genreference: %v", err)
	}
}
