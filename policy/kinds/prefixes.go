package kinds

import "fmt"

// Prefixes checks a list of key or channel prefixes, field naming it
// (key_prefixes, channel_prefixes). An empty prefix matches everything,
// which is what leaving the list out already says; written inside a list
// it is almost always a mistake, so it is refused rather than read.
func Prefixes(field string, prefixes []string) error {
	for i, p := range prefixes {
		if p == "" {
			return fmt.Errorf("%s[%d]: empty prefix (it would match everything; leave %s out for that)", field, i, field)
		}
	}
	return nil
}
