// Command renderchild is the smallest program that can be a render
// child: what keyway-control does when re-executed with
// sandbox.Subcommand, without the rest of the control plane. The sandbox
// tests build it, so the policy module tests its sandbox on its own.
package main

import (
	"fmt"
	"os"

	"keyway.dev/policy/sandbox"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != sandbox.Subcommand {
		fmt.Fprintf(os.Stderr, "usage: renderchild %s [limits]\n", sandbox.Subcommand)
		os.Exit(2)
	}
	os.Exit(sandbox.Child(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
}
