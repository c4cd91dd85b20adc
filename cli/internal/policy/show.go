package policy

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// ShowJSON is the JSON form of `policy show`.
type ShowJSON struct {
	VersionJSON
	Entry string `json:"entry"`
	// Sources maps each file of the bundle to its text.
	Sources map[string]string `json:"sources"`
	// Rendered is the policy in protobuf's canonical JSON, with --rendered.
	Rendered json.RawMessage `json:"rendered,omitempty"`
}

func showCommand(a *app.App) *dispatch.Command {
	var rendered bool
	return &dispatch.Command{
		Name:    "show",
		Short:   "Show a version's metadata and sources (default the active one)",
		Usage:   "[VERSION] [--rendered]",
		MaxArgs: 1,
		Long:    `VERSION is written v3 or 3. Without it, the active version is shown.`,
		Examples: []string{
			"keyway policy show",
			"keyway policy show v3",
			"keyway policy show 3 --rendered",
			"keyway policy show v3 -o json | jq -r '.sources[\"main.star\"]'",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&rendered, "rendered", false, "also print the rendered policy")
		},
		Run: func(ctx context.Context, args []string) error {
			var want uint64
			if len(args) == 1 {
				n, err := ParseVersion(args[0])
				if err != nil {
					return err
				}
				want = n
			}
			var resp *keywayv1.GetVersionResponse
			err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Policy.GetVersion(ctx, &keywayv1.GetVersionRequest{Version: want})
				return err
			})
			if err != nil {
				return notFound(err, want)
			}
			return printShow(a, resp, rendered)
		},
	}
}

// notFound words a NotFound answer about version v.
func notFound(err error, v uint64) error {
	var nf *client.NotFound
	if !errors.As(err, &nf) {
		return err
	}
	if v == 0 {
		return errors.New("no active version; push one with `keyway policy push PATH -m MSG`")
	}
	return fmt.Errorf("no version %s", Name(v))
}

func printShow(a *app.App, resp *keywayv1.GetVersionResponse, rendered bool) error {
	v := resp.GetVersion()
	files := v.GetBundle().GetFiles()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	info := &keywayv1.PolicyVersionInfo{
		Version: v.GetVersion(), Parent: v.GetParent(), Author: v.GetAuthor(), AuthorNote: v.GetAuthorNote(), Message: v.GetMessage(),
		Created: v.GetCreated(), Digest: v.GetDigest(), Active: resp.GetActive(), Domains: domainNames(v.GetRendered()),
		EffectiveDomains: resp.GetEffectiveDomains(),
	}
	if a.JSON() {
		out := ShowJSON{VersionJSON: infoJSON(info), Entry: v.GetBundle().GetEntry(), Sources: make(map[string]string, len(files))}
		for name, data := range files {
			out.Sources[name] = string(data)
		}
		if rendered {
			raw, err := protojson.Marshal(v.GetRendered())
			if err != nil {
				return fmt.Errorf("encode rendered policy: %w", err)
			}
			out.Rendered = raw
		}
		return output.WriteJSON(a.Stdout, out)
	}
	var b strings.Builder
	state := ""
	switch {
	case resp.GetActive():
		state = " (active)"
	case len(resp.GetEffectiveDomains()) > 0:
		state = " (pinned: " + strings.Join(resp.GetEffectiveDomains(), ", ") + ")"
	}
	created := output.TimeOf(v.GetCreated())
	fmt.Fprintf(&b, "version:  %s%s\n", Name(v.GetVersion()), state)
	fmt.Fprintf(&b, "parent:   %s\n", Name(v.GetParent()))
	fmt.Fprintf(&b, "author:   %s\n", authorCell(v.GetAuthor(), v.GetAuthorNote()))
	if created.IsZero() {
		b.WriteString("created:  -\n")
	} else {
		fmt.Fprintf(&b, "created:  %s (%s ago)\n", output.Stamp(created), output.Age(a.Now(), created))
	}
	fmt.Fprintf(&b, "digest:   %s\n", output.Dash(v.GetDigest()))
	fmt.Fprintf(&b, "domains:  %s\n", output.Dash(strings.Join(info.GetDomains(), ", ")))
	fmt.Fprintf(&b, "runs in:  %s\n", output.Dash(strings.Join(resp.GetEffectiveDomains(), ", ")))
	fmt.Fprintf(&b, "entry:    %s\n", output.Dash(v.GetBundle().GetEntry()))
	fmt.Fprintf(&b, "message:  %s\n", v.GetMessage())
	for _, name := range names {
		src := string(files[name])
		fmt.Fprintf(&b, "\n==> %s <==\n%s", name, src)
		if !strings.HasSuffix(src, "\n") {
			b.WriteByte('\n')
		}
	}
	if rendered {
		text, err := prototext.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(v.GetRendered())
		if err != nil {
			return fmt.Errorf("encode rendered policy: %w", err)
		}
		fmt.Fprintf(&b, "\n==> rendered <==\n%s", text)
	}
	_, err := a.Stdout.Write([]byte(b.String()))
	return err
}
