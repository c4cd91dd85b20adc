package server

import (
	"sort"
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// hiddenFlags are the proxy's own classifications, not Redis flags, so
// COMMAND does not show them.
const hiddenFlags = resp.FlagConnState | resp.FlagDangerous

// command answers COMMAND with the upstream's own answer when the tree
// gives one, so client libraries that read it (redis-cli, cluster
// clients) see exactly what Redis would tell them. When the policy or the
// upstream gives none, the proxy's command table answers, which is
// generated from redis-server's own reply; its key specs, ACL categories
// and docs come back empty.
func (c *client) command(st *engine.State, args [][]byte) bool {
	if st != nil && c.commandUpstream(st, args) {
		return true
	}
	return c.commandLocal(args)
}

// commandUpstream asks the upstream for COMMAND through the tree, so the
// answer is Redis's own, byte for byte (key specs, ACL categories, docs,
// and the commands of the server's version). It returns false when the
// policy or the upstream did not answer, and the proxy's table answers.
func (c *client) commandUpstream(st *engine.State, args [][]byte) bool {
	return c.askUpstream(st, args)
}

// askUpstream serves a command the proxy could answer itself through the
// tree instead, so the client gets what Redis says, and writes the reply;
// false when the policy sends it nowhere, the client has not
// authenticated, or no upstream answered, and the caller answers.
func (c *client) askUpstream(st *engine.State, args [][]byte) bool {
	if st == nil || (st.Proxy.GetIdentity().GetRequireAuth() && !c.authed) {
		return false
	}
	r := &engine.Request{Session: &c.sess}
	r.Cmd.Args = args
	r.Cmd.Spec = resp.Resolve(args)
	if r.Cmd.Spec == nil {
		return false
	}
	c.serveOne(st, r)
	raw := r.Raw()
	if r.Kind() == engine.KindRefused || r.Kind() == engine.KindProxy || r.Kind() == engine.KindTimeout || len(raw) == 0 {
		return false
	}
	c.write(raw)
	return true
}

// commandLocal answers COMMAND from the proxy's own table.
func (c *client) commandLocal(args [][]byte) bool {
	if len(args) == 1 {
		all := resp.All()
		b := resp.AppendArray(c.out[:0], len(all))
		for _, s := range all {
			b = appendCommandInfo(b, s, c.resp3())
		}
		c.out = b
		c.write(b)
		return true
	}
	sub := strings.ToUpper(string(args[1]))
	switch sub {
	case "COUNT":
		if len(args) != 2 {
			c.writeError(arityError("command|count"))
			return true
		}
		c.writeInt(int64(len(resp.All())))
	case "INFO":
		names := args[2:]
		if len(names) == 0 {
			return c.commandLocal(args[:1])
		}
		b := resp.AppendArray(c.out[:0], len(names))
		for _, n := range names {
			if s := specByName(string(n)); s != nil {
				b = appendCommandInfo(b, s, c.resp3())
			} else {
				b = resp.AppendNull(b, c.resp3())
			}
		}
		c.out = b
		c.write(b)
	case "DOCS":
		c.write([]byte("*0\r\n"))
	case "LIST":
		all := resp.All()
		b := resp.AppendArray(c.out[:0], len(all))
		for _, s := range all {
			b = resp.AppendBulkString(b, strings.ToLower(s.Name))
		}
		c.out = b
		c.write(b)
	case "GETKEYS":
		c.commandGetKeys(args[2:])
	default:
		c.writeError("ERR unknown subcommand '" + truncate(string(args[1]), 128) + "'. Try COMMAND HELP.")
	}
	return true
}

func (c *client) commandGetKeys(args [][]byte) {
	if len(args) == 0 {
		c.writeError(arityError("command|getkeys"))
		return
	}
	cmd := resp.Command{Args: args, Spec: resp.Resolve(args)}
	if cmd.Spec == nil {
		c.writeError("ERR Invalid command specified")
		return
	}
	if !resp.CheckArity(&cmd) {
		c.writeError("ERR Invalid number of arguments specified for command")
		return
	}
	keys := cmd.Keys(nil)
	if len(keys) == 0 {
		c.writeError("ERR The command has no key arguments")
		return
	}
	b := resp.AppendArray(c.out[:0], len(keys))
	for _, k := range keys {
		b = resp.AppendBulk(b, args[k])
	}
	c.out = b
	c.write(b)
}

// specByName finds "get" or "config|get".
func specByName(name string) *resp.Spec {
	top, sub, hasSub := strings.Cut(name, "|")
	s := resp.Lookup([]byte(top))
	if s == nil || !hasSub {
		return s
	}
	return s.Subcommands[strings.ToUpper(sub)]
}

// appendCommandInfo writes one COMMAND INFO entry in Redis 7's ten-field
// shape.
func appendCommandInfo(b []byte, s *resp.Spec, resp3 bool) []byte {
	b = resp.AppendArray(b, 10)
	b = resp.AppendBulkString(b, strings.ToLower(s.Name))
	b = resp.AppendInt(b, int64(s.Arity))
	shown := s.Flags &^ hiddenFlags
	var names []string
	if shown != 0 {
		names = strings.Split(shown.String(), "|")
	}
	b = resp.AppendSet(b, len(names), resp3)
	for _, n := range names {
		b = resp.AppendSimple(b, n)
	}
	b = resp.AppendInt(b, int64(s.FirstKey))
	b = resp.AppendInt(b, int64(s.LastKey))
	b = resp.AppendInt(b, int64(s.Step))
	b = resp.AppendSet(b, 0, resp3) // ACL categories
	// Redis 7.0 sends tips, key specs and subcommands as sets in RESP3.
	b = resp.AppendSet(b, 0, resp3) // tips
	b = resp.AppendSet(b, 0, resp3) // key specs
	subs := make([]*resp.Spec, 0, len(s.Subcommands))
	for _, sub := range s.Subcommands {
		subs = append(subs, sub)
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name < subs[j].Name })
	b = resp.AppendSet(b, len(subs), resp3)
	for _, sub := range subs {
		b = appendCommandInfo(b, sub, resp3)
	}
	return b
}
