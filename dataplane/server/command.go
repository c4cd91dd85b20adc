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

// command answers COMMAND from the proxy's command table, which is
// generated from redis-server's own reply, so client libraries that read
// it (redis-cli, cluster clients) see what Redis would tell them. Key
// specs, ACL categories and docs are not part of the table and come back
// empty.
func (c *client) command(_ *engine.State, args [][]byte) bool {
	if len(args) == 1 {
		all := resp.All()
		b := resp.AppendArray(c.out[:0], len(all))
		for _, s := range all {
			b = appendCommandInfo(b, s)
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
			return c.command(nil, args[:1])
		}
		b := resp.AppendArray(c.out[:0], len(names))
		for _, n := range names {
			if s := specByName(string(n)); s != nil {
				b = appendCommandInfo(b, s)
			} else {
				b = resp.AppendNullBulk(b)
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
func appendCommandInfo(b []byte, s *resp.Spec) []byte {
	b = resp.AppendArray(b, 10)
	b = resp.AppendBulkString(b, strings.ToLower(s.Name))
	b = resp.AppendInt(b, int64(s.Arity))
	shown := s.Flags &^ hiddenFlags
	var names []string
	if shown != 0 {
		names = strings.Split(shown.String(), "|")
	}
	b = resp.AppendArray(b, len(names))
	for _, n := range names {
		b = resp.AppendSimple(b, n)
	}
	b = resp.AppendInt(b, int64(s.FirstKey))
	b = resp.AppendInt(b, int64(s.LastKey))
	b = resp.AppendInt(b, int64(s.Step))
	b = resp.AppendArray(b, 0) // ACL categories
	b = resp.AppendArray(b, 0) // tips
	b = resp.AppendArray(b, 0) // key specs
	subs := make([]*resp.Spec, 0, len(s.Subcommands))
	for _, sub := range s.Subcommands {
		subs = append(subs, sub)
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name < subs[j].Name })
	b = resp.AppendArray(b, len(subs))
	for _, sub := range subs {
		b = appendCommandInfo(b, sub)
	}
	return b
}
