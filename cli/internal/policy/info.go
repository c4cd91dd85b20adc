package policy

import (
	keywayv1 "keyway.dev/proto/keyway/v1"

	"keyway.dev/cli/internal/output"
)

// VersionJSON is the stable JSON form of a version's metadata, used by
// push, history and show. Field names are part of the CLI's contract.
type VersionJSON struct {
	Version uint64 `json:"version"`
	Name    string `json:"name"`
	Parent  uint64 `json:"parent"`
	Active  bool   `json:"active"`
	Author  string `json:"author"`
	// AuthorNote is the --author the client gave when the control plane
	// authenticated it as someone else (Author).
	AuthorNote string   `json:"author_note,omitempty"`
	Message    string   `json:"message"`
	Created    string   `json:"created"`
	Digest     string   `json:"digest"`
	Domains    []string `json:"domains"`
	// EffectiveDomains are the domains whose stable tree runs this
	// version, completed rollouts' pins included.
	EffectiveDomains []string `json:"effective_domains"`
}

func infoJSON(v *keywayv1.PolicyVersionInfo) VersionJSON {
	domains := v.GetDomains()
	if domains == nil {
		domains = []string{}
	}
	effective := v.GetEffectiveDomains()
	if effective == nil {
		effective = []string{}
	}
	return VersionJSON{
		EffectiveDomains: effective,
		Version:          v.GetVersion(),
		Name:             Name(v.GetVersion()),
		Parent:           v.GetParent(),
		Active:           v.GetActive(),
		Author:           v.GetAuthor(),
		AuthorNote:       v.GetAuthorNote(),
		Message:          v.GetMessage(),
		Created:          output.Stamp(output.TimeOf(v.GetCreated())),
		Digest:           v.GetDigest(),
		Domains:          domains,
	}
}

// shortDigest is the first 12 hex digits, enough to tell versions apart.
func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return output.Dash(d)
}

// authorCell is who pushed a version, with the name the client gave when
// the control plane authenticated it as someone else, as the audit log
// writes it: "token:ci (as alice)".
func authorCell(author, note string) string {
	if note == "" {
		return output.Dash(author)
	}
	return author + " (as " + note + ")"
}
