package resp

import (
	"fmt"
	"sort"
	"strings"
)

// ProxyClass says how the proxy serves a command: on which kind of
// upstream connection it may run, whether the proxy answers it itself,
// and whether a policy must allow it. Every command of the table has one,
// set in proxyClasses below, so a command a new Redis adds cannot reach a
// shared connection without someone deciding it may.
type ProxyClass uint8

// Proxy classes. The zero value is no class: the test over All() fails
// on it.
const (
	Unclassified ProxyClass = iota
	// Shared commands are multiplexed with other clients' requests on
	// the upstream's pipelined connections: they leave nothing on the
	// connection for the next request to trip on.
	Shared
	// Dedicated commands leave state on the connection (transactions,
	// watches, subscriptions, tracking) or hold it waiting (blocking
	// pops): they run on a connection of the client's own.
	Dedicated
	// Relay commands turn the connection into a stream (replication,
	// MONITOR): the client connection becomes a byte pipe to a dedicated
	// upstream connection until either side closes. They are also admin
	// commands (see Admin).
	Relay
	// Local commands are answered by the proxy itself (AUTH, HELLO,
	// CLIENT SETNAME, ...): their state is the client's session, not an
	// upstream connection's.
	Local
	// ClusterWide commands act on the whole server, so on a cluster
	// upstream they go to every node and their replies are merged; on a
	// standalone upstream they are shared-connection commands.
	ClusterWide
	// ServerMutating commands change what the upstream is or whether it
	// runs (role, lifecycle, cluster membership, users, modules). They
	// run on a dedicated connection, never a shared one, and a policy
	// refuses them unless it allows them for the domain (see Admin).
	ServerMutating
	// Refused commands are answered with an error by the proxy: they act
	// on Redis's view of its clients, which are the proxy's connections
	// shared by many clients, or switch a connection into a mode the
	// proxy cannot carry.
	Refused
)

var proxyClassNames = [...]string{"unclassified", "shared", "dedicated", "relay", "proxy", "cluster-wide", "server-mutating", "refused"}

// String is the class as docs/commands.md spells it.
func (p ProxyClass) String() string {
	if int(p) < len(proxyClassNames) {
		return proxyClassNames[p]
	}
	return "unknown"
}

// Admin reports whether a policy must allow commands of class p for a
// domain (domain(..., allow_admin_commands = [...])): they change the
// server for every client or expose every client's traffic.
func (p ProxyClass) Admin() bool { return p == Relay || p == ServerMutating }

// ProxyClassOf returns the class of s, Unclassified for nil. A container
// without a known subcommand is Refused: Redis refuses it too.
func ProxyClassOf(s *Spec) ProxyClass {
	if s == nil {
		return Unclassified
	}
	return s.proxy
}

// ProxyWhy is the reason recorded for the class of the command named name
// ("CONFIG|SET"), or "" when the class is the obvious one.
func ProxyWhy(name string) string { return proxyClasses[name].why }

// NeedsDedicated reports whether c must never run on a shared upstream
// connection: it keeps state there, holds it waiting, streams on it,
// changes the server under every other client, or is one the proxy
// refuses and so must not reach a shared connection by any path.
func NeedsDedicated(c *Command) bool {
	s := c.Spec
	if s == nil {
		return false
	}
	switch s.proxy {
	case Dedicated, Relay, ServerMutating, Refused:
		return true
	}
	return IsBlocking(c)
}

// classEntry is one row of proxyClasses.
type classEntry struct {
	class ProxyClass
	why   string
}

// classGroup lists commands that share a class for one reason.
type classGroup struct {
	class ProxyClass
	why   string
	names []string
}

// proxyClasses is the one table of proxy classes, by the table's names
// ("GET", "CONFIG|SET"). docs/commands.md is generated from it
// (TestCommandsDoc -update).
var proxyClasses = buildClasses([]classGroup{
	{Shared, "", []string{
		// Strings and bits.
		"APPEND", "BITCOUNT", "BITFIELD", "BITFIELD_RO", "BITOP", "BITPOS",
		"DECR", "DECRBY", "GET", "GETBIT", "GETDEL", "GETEX", "GETRANGE",
		"GETSET", "INCR", "INCRBY", "INCRBYFLOAT", "LCS", "MGET", "MSET",
		"MSETNX", "PSETEX", "SET", "SETBIT", "SETEX", "SETNX", "SETRANGE",
		"STRLEN", "SUBSTR",
		// Keyspace.
		"COPY", "DEL", "DUMP", "EXISTS", "EXPIRE", "EXPIREAT", "EXPIRETIME",
		"MIGRATE", "MOVE", "OBJECT|ENCODING", "OBJECT|FREQ", "OBJECT|HELP",
		"OBJECT|IDLETIME", "OBJECT|REFCOUNT", "PERSIST", "PEXPIRE",
		"PEXPIREAT", "PEXPIRETIME", "PTTL", "RENAME", "RENAMENX", "RESTORE",
		"RESTORE-ASKING", "SORT", "SORT_RO", "TOUCH", "TTL", "TYPE", "UNLINK",
		// Hashes.
		"HDEL", "HEXISTS", "HGET", "HGETALL", "HINCRBY", "HINCRBYFLOAT",
		"HKEYS", "HLEN", "HMGET", "HMSET", "HRANDFIELD", "HSCAN", "HSET",
		"HSETNX", "HSTRLEN", "HVALS",
		// Lists.
		"LINDEX", "LINSERT", "LLEN", "LMOVE", "LMPOP", "LPOP", "LPOS", "LPUSH",
		"LPUSHX", "LRANGE", "LREM", "LSET", "LTRIM", "RPOP", "RPOPLPUSH",
		"RPUSH", "RPUSHX",
		// Sets.
		"SADD", "SCARD", "SDIFF", "SDIFFSTORE", "SINTER", "SINTERCARD",
		"SINTERSTORE", "SISMEMBER", "SMEMBERS", "SMISMEMBER", "SMOVE", "SPOP",
		"SRANDMEMBER", "SREM", "SSCAN", "SUNION", "SUNIONSTORE",
		// Sorted sets.
		"ZADD", "ZCARD", "ZCOUNT", "ZDIFF", "ZDIFFSTORE", "ZINCRBY", "ZINTER",
		"ZINTERCARD", "ZINTERSTORE", "ZLEXCOUNT", "ZMPOP", "ZMSCORE",
		"ZPOPMAX", "ZPOPMIN", "ZRANDMEMBER", "ZRANGE", "ZRANGEBYLEX",
		"ZRANGEBYSCORE", "ZRANGESTORE", "ZRANK", "ZREM", "ZREMRANGEBYLEX",
		"ZREMRANGEBYRANK", "ZREMRANGEBYSCORE", "ZREVRANGE", "ZREVRANGEBYLEX",
		"ZREVRANGEBYSCORE", "ZREVRANK", "ZSCAN", "ZSCORE", "ZUNION",
		"ZUNIONSTORE",
		// Streams (XREAD and XREADGROUP below).
		"XACK", "XADD", "XAUTOCLAIM", "XCLAIM", "XDEL", "XGROUP|CREATE",
		"XGROUP|CREATECONSUMER", "XGROUP|DELCONSUMER", "XGROUP|DESTROY",
		"XGROUP|HELP", "XGROUP|SETID", "XINFO|CONSUMERS", "XINFO|GROUPS",
		"XINFO|HELP", "XINFO|STREAM", "XLEN", "XPENDING", "XRANGE",
		"XREVRANGE", "XSETID", "XTRIM",
		// Geo and HyperLogLog.
		"GEOADD", "GEODIST", "GEOHASH", "GEOPOS", "GEORADIUS",
		"GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO", "GEORADIUS_RO",
		"GEOSEARCH", "GEOSEARCHSTORE", "PFADD", "PFCOUNT", "PFDEBUG",
		"PFMERGE", "PFSELFTEST",
		// Scripts and functions run on the node of their keys.
		"EVAL", "EVALSHA", "EVALSHA_RO", "EVAL_RO", "FCALL", "FCALL_RO",
		"SPUBLISH",
		// Server commands that read or act once, with nothing left behind.
		"ACL|CAT", "ACL|DRYRUN", "ACL|GENPASS", "ACL|GETUSER", "ACL|HELP",
		"ACL|LIST", "ACL|LOG", "ACL|SAVE", "ACL|USERS", "ACL|WHOAMI",
		"BGREWRITEAOF", "BGSAVE", "CONFIG|HELP", "FUNCTION|HELP", "LASTSAVE", "LATENCY|HELP", "LOLWUT",
		"MEMORY|HELP", "MEMORY|USAGE", "MODULE|HELP", "MODULE|LIST",
		"PUBSUB|HELP", "ROLE", "SCRIPT|HELP", "SLOWLOG|HELP", "TIME",
	}},
	{Shared, "answered by the proxy on an emulated-cluster listener", []string{
		"CLUSTER|COUNT-FAILURE-REPORTS", "CLUSTER|COUNTKEYSINSLOT",
		"CLUSTER|GETKEYSINSLOT", "CLUSTER|HELP", "CLUSTER|INFO",
		"CLUSTER|KEYSLOT", "CLUSTER|LINKS", "CLUSTER|MYID", "CLUSTER|NODES",
		"CLUSTER|REPLICAS", "CLUSTER|SHARDS", "CLUSTER|SLAVES", "CLUSTER|SLOTS",
	}},
	{Shared, "dedicated when given BLOCK, which holds the connection waiting", []string{
		"XREAD", "XREADGROUP",
	}},
	{Shared, "SAVE blocks the whole server, as it does direct; nothing is left on the connection", []string{
		"SAVE",
	}},
	{Shared, "swaps databases for every client, as it does direct; the proxy serves database 0 only (SELECT)", []string{
		"SWAPDB",
	}},
	{Shared, "answered by Keyway's commands engine in the domain's tree", []string{
		"KEYWAY.LOCK", "KEYWAY.UNLOCK", "KEYWAY.EXTEND",
	}},

	{Dedicated, "", []string{
		"MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH",
		"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE",
		"PUNSUBSCRIBE", "SUNSUBSCRIBE",
		"BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BLMPOP", "BZMPOP",
		"BZPOPMAX", "BZPOPMIN",
	}},
	{Dedicated, "tracking state lives on the connection; its invalidations go to it", []string{
		"CLIENT|TRACKING", "CLIENT|CACHING", "CLIENT|GETREDIR",
		"CLIENT|TRACKINGINFO",
	}},
	{Dedicated, "OFF and SKIP suppress the replies of later commands on the connection", []string{
		"CLIENT|REPLY",
	}},
	{Dedicated, "flags the connection's next command; on a shared one it would apply to another client's (answered by the proxy on an emulated-cluster listener)", []string{
		"ASKING",
	}},
	{Dedicated, "switches the connection's next EVAL into the Lua debugger", []string{
		"SCRIPT|DEBUG",
	}},

	{Relay, "the connection becomes the replication stream (RDB, then every write)", []string{
		"SYNC", "PSYNC",
	}},
	{Relay, "a replica's handshake before PSYNC; it sets replication state on the connection (redis-cli --rdb sends it first)", []string{
		"REPLCONF",
	}},
	{Relay, "the connection becomes a stream of every command the server runs, every client's", []string{
		"MONITOR",
	}},

	{Local, "", []string{
		"AUTH", "HELLO", "PING", "QUIT", "ECHO", "RESET", "CLIENT|GETNAME",
		"CLIENT|SETNAME", "CLIENT|ID", "CLIENT|INFO", "CLIENT|HELP",
	}},
	{Local, "the proxy serves database 0 only; other indexes are refused", []string{
		"SELECT",
	}},
	{Local, "replica reads are the policy's choice (upstream(read_from_replicas = True)), not the connection's", []string{
		"READONLY", "READWRITE",
	}},
	{Local, "lists the proxy's clients, not the upstream's", []string{
		"CLIENT|LIST",
	}},
	{Local, "eviction is the upstream's business: accepted so clients that send it work", []string{
		"CLIENT|NO-EVICT",
	}},
	{Local, "the proxy's command table, which is redis-server's", []string{
		"COMMAND|COUNT", "COMMAND|DOCS", "COMMAND|GETKEYS",
		"COMMAND|GETKEYSANDFLAGS", "COMMAND|HELP", "COMMAND|INFO",
		"COMMAND|LIST",
	}},
	{Local, "upstream sections merged from every node, plus the proxy's own", []string{
		"INFO",
	}},

	{ClusterWide, "", []string{
		"SCRIPT|EXISTS", "SCRIPT|FLUSH", "SCRIPT|KILL", "SCRIPT|LOAD",
		"FUNCTION|DELETE", "FUNCTION|DUMP", "FUNCTION|FLUSH",
		"FUNCTION|KILL", "FUNCTION|LIST", "FUNCTION|LOAD",
		"FUNCTION|RESTORE", "FUNCTION|STATS",
		"CONFIG|GET", "CONFIG|RESETSTAT", "CONFIG|REWRITE",
		"FLUSHALL", "FLUSHDB", "DBSIZE", "KEYS", "SCAN", "RANDOMKEY",
		"MEMORY|DOCTOR", "MEMORY|MALLOC-STATS", "MEMORY|PURGE",
		"MEMORY|STATS", "LATENCY|DOCTOR", "LATENCY|GRAPH",
		"LATENCY|HISTOGRAM", "LATENCY|HISTORY", "LATENCY|LATEST",
		"LATENCY|RESET", "SLOWLOG|GET", "SLOWLOG|LEN", "SLOWLOG|RESET",
		"PUBLISH", "PUBSUB|CHANNELS", "PUBSUB|NUMPAT", "PUBSUB|NUMSUB",
		"PUBSUB|SHARDCHANNELS", "PUBSUB|SHARDNUMSUB",
	}},
	{ClusterWide, "not gated: tools and test suites set configuration routinely, and it leaves the server what it is; a policy fences it with guard(deny_commands = [\"CONFIG|SET\"])", []string{
		"CONFIG|SET",
	}},
	{ClusterWide, "waits for replicas to acknowledge the connection's writes; it blocks, so on one node it runs on a dedicated connection", []string{
		"WAIT",
	}},

	{ServerMutating, "", []string{
		"SHUTDOWN", "REPLICAOF", "SLAVEOF", "FAILOVER",
		"CLUSTER|ADDSLOTS", "CLUSTER|ADDSLOTSRANGE", "CLUSTER|BUMPEPOCH",
		"CLUSTER|DELSLOTS", "CLUSTER|DELSLOTSRANGE", "CLUSTER|FAILOVER",
		"CLUSTER|FLUSHSLOTS", "CLUSTER|FORGET", "CLUSTER|MEET",
		"CLUSTER|REPLICATE", "CLUSTER|RESET", "CLUSTER|SAVECONFIG",
		"CLUSTER|SET-CONFIG-EPOCH", "CLUSTER|SETSLOT",
	}},
	{ServerMutating, "DEBUG SLEEP, RELOAD, SET-ACTIVE-EXPIRE, ... stall or change the server for every client", []string{
		"DEBUG",
	}},
	{ServerMutating, "can take away the rights or the password of the user the proxy's own connections log in as, which breaks every client", []string{
		"ACL|SETUSER", "ACL|DELUSER", "ACL|LOAD",
	}},
	{ServerMutating, "loads code into the server", []string{
		"MODULE|LOAD", "MODULE|LOADEX", "MODULE|UNLOAD",
	}},

	{Refused, "Redis's client ids and addresses are the proxy's connections, each shared by many clients: killing one hits other clients' requests", []string{
		"CLIENT|KILL",
	}},
	{Local, "names a client of the proxy; the proxy unblocks that client's blocking command on the connection it runs on", []string{
		"CLIENT|UNBLOCK",
	}},
	{Refused, "would stall every client of the upstream, including other domains'", []string{
		"CLIENT|PAUSE", "CLIENT|UNPAUSE",
	}},
})

func buildClasses(groups []classGroup) map[string]classEntry {
	m := map[string]classEntry{}
	for _, g := range groups {
		for _, n := range g.names {
			if _, dup := m[n]; dup {
				panic(fmt.Sprintf("resp: %s has two proxy classes", n))
			}
			m[n] = classEntry{class: g.class, why: g.why}
		}
	}
	return m
}

// The class is copied onto each spec so the hot path reads a field, not
// a map.
func init() {
	set := func(s *Spec) {
		if e, ok := proxyClasses[s.Name]; ok {
			s.proxy = e.class
		}
	}
	for _, table := range []map[string]*Spec{commands, proxyCommands} {
		for _, s := range table {
			if s.Container() {
				s.proxy = Refused
				for _, sub := range s.Subcommands {
					set(sub)
				}
				continue
			}
			set(s)
		}
	}
}

// ClassRow is one command of the class table, for docs and tests.
type ClassRow struct {
	Name  string
	Class ProxyClass
	Why   string
}

// ClassTable returns every command of the table, subcommands in place of
// their containers, with its class, sorted by name.
func ClassTable() []ClassRow {
	var out []ClassRow
	add := func(s *Spec) {
		out = append(out, ClassRow{Name: s.Name, Class: s.proxy, Why: proxyClasses[s.Name].why})
	}
	for _, table := range []map[string]*Spec{commands, proxyCommands} {
		for _, s := range table {
			if !s.Container() {
				add(s)
				continue
			}
			for _, sub := range s.Subcommands {
				add(sub)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// AdminAllowed reports whether allow, a domain's allow_admin_commands,
// covers s: "*" allows every admin command, a container's name ("CLUSTER")
// all its subcommands, and "CLUSTER|FAILOVER" that one. Names are
// canonical (resp.Canonical), so they compare exactly.
func AdminAllowed(allow []string, s *Spec) bool {
	container, _, _ := strings.Cut(s.Name, "|")
	for _, a := range allow {
		if a == "*" || a == s.Name || a == container {
			return true
		}
	}
	return false
}
