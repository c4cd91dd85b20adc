package render

import (
	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinRateLimit limits operations and bytes per second:
// ratelimit(next, ops_per_second=0, bytes_per_second=0, burst_seconds=1,
// mode="refuse", max_delay=None, priority=0, label=None).
func builtinRateLimit(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var next starlark.Value
	var ops, bytes, burst, maxDelay starlark.Value = starlark.None, starlark.None, starlark.None, starlark.None
	mode := "refuse"
	priority := 0
	var label string
	if err := unpack(fn.Name(), args, kwargs,
		"next", &next, "ops_per_second?", &ops, "bytes_per_second?", &bytes, "burst_seconds?", &burst,
		"mode?", &mode, "max_delay?", &maxDelay, "priority?", &priority, "label?", &label); err != nil {
		return nil, err
	}
	r := &keywayv1.RateLimit{
		Mode: oneOf(c, "mode", mode, []string{"refuse", "delay"},
			[]keywayv1.RateLimit_Mode{keywayv1.RateLimit_MODE_REFUSE, keywayv1.RateLimit_MODE_DELAY}),
		Priority: c.count("priority", priority, 0),
	}
	var err error
	if r.Next, err = c.required("next", next); err != nil {
		return nil, err
	}
	if r.OpsPerSecond, err = c.number("ops_per_second", ops, 0); err != nil {
		return nil, err
	}
	if r.BytesPerSecond, err = c.number("bytes_per_second", bytes, 0); err != nil {
		return nil, err
	}
	if r.BurstSeconds, err = c.number("burst_seconds", burst, kinds.RateLimitDefaultBurstSeconds); err != nil {
		return nil, err
	}
	if err := kinds.RateLimitRates(r.OpsPerSecond, r.BytesPerSecond); err != nil {
		c.errorf("%v", err)
	}
	if err := kinds.RateLimitBurst(r.BurstSeconds); err != nil {
		c.errorf("%v", err)
	}
	if r.MaxDelay, err = c.duration("max_delay", maxDelay, ""); err != nil {
		return nil, err
	}
	if err := kinds.RateLimitMaxDelay(mode == "delay", r.MaxDelay); err != nil {
		c.errorf("%v", err)
	}
	return c.engine("ratelimit", label, &keywayv1.Engine{Kind: &keywayv1.Engine_Ratelimit{Ratelimit: r}}), nil
}
