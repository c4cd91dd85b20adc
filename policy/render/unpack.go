package render

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// unpack is starlark.UnpackArgs with a reliable "did you mean" for a
// misspelled keyword: the interpreter's own suggestion only considers
// some of the parameters, so a typo of a later one went unexplained.
func unpack(fnname string, args starlark.Tuple, kwargs []starlark.Tuple, pairs ...any) error {
	err := starlark.UnpackArgs(fnname, args, kwargs, pairs...)
	if err == nil || strings.Contains(err.Error(), "did you mean") {
		return err
	}
	msg := err.Error()
	const marker = "unexpected keyword argument "
	i := strings.Index(msg, marker)
	if i < 0 {
		return err
	}
	got := strings.Trim(msg[i+len(marker):], `"`)
	params := make([]string, 0, len(pairs)/2)
	for j := 0; j < len(pairs); j += 2 {
		name, _ := pairs[j].(string)
		params = append(params, strings.TrimRight(name, "?"))
	}
	if best := closest(strings.ToLower(got), params); best != "" {
		return fmt.Errorf("%s (did you mean %s?)", msg, best)
	}
	return err
}
