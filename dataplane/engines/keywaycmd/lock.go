package keywaycmd

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// Scripts compare the stored token before acting, so only the holder can
// release or extend a lock, even after its lease expired and someone else
// took it.
const (
	unlockScript = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`
	extendScript = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`
)

// Errors worded as Redis words them for the same mistakes.
var (
	errNotInteger = errors.New("ERR value is not an integer or out of range")
	errBadLockTTL = errors.New("ERR invalid expire time in 'keyway.lock' command")
	errBadExtTTL  = errors.New("ERR invalid expire time in 'keyway.extend' command")
	errBadFence   = errors.New("keyway: the locks engine answered INCR with something other than an integer")
)

// lock answers KEYWAY.LOCK name ttl_ms: a fencing token from INCR of the
// lock's fence key, stored with SET NX PX; the token if the lock was
// free, nil if it is held. Tokens only grow, so a resource that saw token
// 8 can refuse a late writer holding 7. The two steps are separate
// commands, not one script, so the fence and the lock key may live in
// different slots of a cluster.
func (c *Commands) lock(ctx context.Context, r *engine.Request) {
	name, ttlArg := r.Cmd.Args[1], r.Cmd.Args[2]
	ttl, ok := parseInt(ttlArg)
	if !ok {
		r.Fail(engine.KindRefused, errNotInteger)
		return
	}
	if ttl <= 0 {
		r.Fail(engine.KindRefused, errBadLockTTL)
		return
	}
	key := c.prefix + string(name)
	raw, up := c.do(ctx, r, "INCR", key+":fence")
	r.Upstream = up
	if isError(raw) {
		r.Reply(raw)
		return
	}
	token, ok := intReply(raw)
	if !ok {
		r.Fail(engine.KindProxy, fmt.Errorf("%w: %q", errBadFence, raw))
		return
	}
	tok := strconv.FormatInt(token, 10)
	raw, _ = c.do(ctx, r, "SET", key, tok, "NX", "PX", strconv.FormatInt(ttl, 10))
	switch {
	case isError(raw):
		r.Reply(raw)
	case isNil(raw):
		r.Reply(nilBulk)
	default:
		r.Reply(resp.AppendInt(nil, token))
	}
}

// unlock answers KEYWAY.UNLOCK name token: 1 if the token held the lock
// and it is released, 0 otherwise.
func (c *Commands) unlock(ctx context.Context, r *engine.Request) {
	token, ok := parseInt(r.Cmd.Args[2])
	if !ok {
		r.Fail(engine.KindRefused, errNotInteger)
		return
	}
	raw, up := c.do(ctx, r, "EVAL", unlockScript, "1", c.prefix+string(r.Cmd.Args[1]), strconv.FormatInt(token, 10))
	r.Upstream = up
	r.Reply(raw)
}

// extend answers KEYWAY.EXTEND name token ttl_ms: 1 if the token holds the
// lock and its lease now ends ttl_ms from now, 0 otherwise.
func (c *Commands) extend(ctx context.Context, r *engine.Request) {
	token, ok := parseInt(r.Cmd.Args[2])
	ttl, ok2 := parseInt(r.Cmd.Args[3])
	if !ok || !ok2 {
		r.Fail(engine.KindRefused, errNotInteger)
		return
	}
	if ttl <= 0 {
		r.Fail(engine.KindRefused, errBadExtTTL)
		return
	}
	raw, up := c.do(ctx, r, "EVAL", extendScript, "1", c.prefix+string(r.Cmd.Args[1]),
		strconv.FormatInt(token, 10), strconv.FormatInt(ttl, 10))
	r.Upstream = up
	r.Reply(raw)
}

// do sends one command through locks on r's session and returns the raw
// reply (valid until the next call) and the upstream that answered.
func (c *Commands) do(ctx context.Context, r *engine.Request, args ...string) ([]byte, string) {
	req := &engine.Request{Session: r.Session, Read: r.Read}
	for _, a := range args {
		req.Cmd.Args = append(req.Cmd.Args, []byte(a))
	}
	req.Cmd.Spec = resp.Resolve(req.Cmd.Args)
	engine.Do(ctx, c.locks, req)
	return req.Raw(), req.Upstream
}

var nilBulk = []byte("$-1\r\n")

func isError(raw []byte) bool { return len(raw) > 0 && raw[0] == '-' }

// isNil recognises RESP2 and RESP3 nulls.
func isNil(raw []byte) bool {
	s := string(raw)
	return s == "$-1\r\n" || s == "*-1\r\n" || s == "_\r\n"
}

func intReply(raw []byte) (int64, bool) {
	if len(raw) < 4 || raw[0] != ':' || raw[len(raw)-2] != '\r' {
		return 0, false
	}
	n, err := strconv.ParseInt(string(raw[1:len(raw)-2]), 10, 64)
	return n, err == nil
}

func parseInt(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}
