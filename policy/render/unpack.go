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
	if sawParams != nil {
		sawParams(fnname, paramNames(pairs))
	}
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
	if best := closest(strings.ToLower(got), paramNames(pairs)); best != "" {
		return fmt.Errorf("%s (did you mean %s?)", msg, best)
	}
	return err
}

// sawParams, when set, hears every builtin's parameter names as it
// unpacks them. Only tests set it, to hold each engine constructor's
// parameters against its proto message (kinds_test.go).
var sawParams func(fnname string, params []string)

// paramNames are the names in UnpackArgs pairs, without the "?" that
// marks an optional one.
func paramNames(pairs []any) []string {
	params := make([]string, 0, len(pairs)/2)
	for j := 0; j < len(pairs); j += 2 {
		name, _ := pairs[j].(string)
		params = append(params, strings.TrimRight(name, "?"))
	}
	return params
}
