package dispatch

import (
	"flag"
	"strings"

	"github.com/spf13/pflag"
)

// addGoFlags adds the standard flags of src to dst as pflag does, except
// that a one-letter flag sharing its variable with a long one (-m and
// --message, -o and --output) becomes that flag's shorthand, so -m, -mhi,
// -m=hi and --message all work and completion offers --message once.
func addGoFlags(dst *pflag.FlagSet, src *flag.FlagSet) {
	shortOf := map[flag.Value]string{}
	src.VisitAll(func(f *flag.Flag) {
		if len(f.Name) == 1 {
			shortOf[f.Value] = f.Name
		}
	})
	folded := map[string]bool{}
	src.VisitAll(func(f *flag.Flag) {
		if len(f.Name) == 1 || dst.Lookup(f.Name) != nil {
			return
		}
		pf := pflag.PFlagFromGoFlag(f)
		pf.Usage = strings.ReplaceAll(f.Usage, "`", "")
		if s, ok := shortOf[f.Value]; ok && !folded[s] && dst.ShorthandLookup(s) == nil {
			pf.Shorthand = s
			folded[s] = true
		}
		dst.AddFlag(pf)
	})
	src.VisitAll(func(f *flag.Flag) {
		if len(f.Name) != 1 || folded[f.Name] || dst.Lookup(f.Name) != nil || dst.ShorthandLookup(f.Name) != nil {
			return
		}
		pf := pflag.PFlagFromGoFlag(f)
		pf.Usage = strings.ReplaceAll(f.Usage, "`", "")
		dst.AddFlag(pf)
	})
}
