package flag

import (
	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// ListJSON is the JSON form of `keyway flag list`. Field names are part of
// the CLI's contract.
type ListJSON struct {
	Flags []FlagJSON `json:"flags"`
}

// FlagJSON is one flag; set and delete print one.
type FlagJSON struct {
	Domain  string `json:"domain"`
	Name    string `json:"name"`
	Percent uint32 `json:"percent"`
	State   string `json:"state"`
	Author  string `json:"author"`
	Updated string `json:"updated"`
}

func toJSON(r *keywayv1.FlagRecord) FlagJSON {
	f := r.GetFlag()
	return FlagJSON{
		Domain: f.GetDomain(), Name: f.GetFlag(), Percent: f.GetPercent(), State: Describe(f.GetPercent()),
		Author: r.GetAuthor(), Updated: output.Stamp(output.TimeOf(r.GetUpdated())),
	}
}
