// Package answer composes the replies the proxy writes itself for
// commands whose answer it knows without asking Redis, or corrects after
// asking: COMMAND from the proxy's command table (Command), INFO with
// the proxy's own sections over the upstream's (Info), the path a
// command takes through a domain's tree (Explain, KEYWAY.EXPLAIN), and
// what CLIENT says without state (its arities, HELP, a CLIENT LIST
// line). It
// knows nothing of connections: the frontend hands it what it needs of
// one (the session, the domain, the upstream's INFO), decides when to
// answer and writes the bytes.
package answer

import (
	"sort"
	"strings"

	"keyway.dev/dataplane/resp"
)

// hiddenFlags are the proxy's own classifications, not Redis flags, so
// COMMAND does not show them.
const hiddenFlags = resp.FlagConnState | resp.FlagDangerous

// Command appends to b the answer to COMMAND args[1:] (args[0] is
// COMMAND) from the proxy's own table, in RESP3 when resp3 is set. On a
// wrong use it returns b unchanged and the error to answer instead.
// Redis's own answer, when the upstream gives one, is better: its key
// specs, ACL categories and docs come back empty here.
func Command(b []byte, args [][]byte, resp3 bool) ([]byte, string) {
	if len(args) == 1 {
		all := resp.All()
		b = resp.AppendArray(b, len(all))
		for _, s := range all {
			b = appendCommandInfo(b, s, resp3)
		}
		return b, ""
	}
	sub := strings.ToUpper(string(args[1]))
	switch sub {
	case "COUNT":
		if len(args) != 2 {
			return b, ArityError("command|count")
		}
		return resp.AppendInt(b, int64(len(resp.All()))), ""
	case "INFO":
		names := args[2:]
		if len(names) == 0 {
			return Command(b, args[:1], resp3)
		}
		b = resp.AppendArray(b, len(names))
		for _, n := range names {
			if s := specByName(string(n)); s != nil {
				b = appendCommandInfo(b, s, resp3)
			} else {
				b = resp.AppendNull(b, resp3)
			}
		}
		return b, ""
	case "DOCS":
		return append(b, "*0\r\n"...), ""
	case "LIST":
		all := resp.All()
		b = resp.AppendArray(b, len(all))
		for _, s := range all {
			b = resp.AppendBulkString(b, strings.ToLower(s.Name))
		}
		return b, ""
	case "GETKEYS":
		return getKeys(b, args[2:])
	}
	return b, "ERR unknown subcommand '" + Truncate(string(args[1]), 128) + "'. Try COMMAND HELP."
}

// getKeys answers COMMAND GETKEYS with the key arguments of args.
func getKeys(b []byte, args [][]byte) ([]byte, string) {
	if len(args) == 0 {
		return b, ArityError("command|getkeys")
	}
	cmd := resp.Command{Args: args, Spec: resp.Resolve(args)}
	if cmd.Spec == nil {
		return b, "ERR Invalid command specified"
	}
	if !resp.CheckArity(&cmd) {
		return b, "ERR Invalid number of arguments specified for command"
	}
	keys := cmd.Keys(nil)
	if len(keys) == 0 {
		return b, "ERR The command has no key arguments"
	}
	b = resp.AppendArray(b, len(keys))
	for _, k := range keys {
		b = resp.AppendBulk(b, args[k])
	}
	return b, ""
}

// ArityError is Redis's refusal of a command with the wrong number of
// arguments; name is the command's name in lower case, as
// "config|get" for a subcommand.
func ArityError(name string) string {
	return "ERR wrong number of arguments for '" + name + "' command"
}

// Truncate cuts s to at most n bytes, for echoing a client's word in an
// error.
func Truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
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
