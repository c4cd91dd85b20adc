package resp

import (
	"bytes"
	"fmt"
)

// KeyAccess says which keys a command can read or write, including the
// ones that are not in its key positions: what a domain confined to key
// prefixes must check before the command reaches a Redis it shares with
// other domains. Every command of the table has one, set in keyAccess
// below; the guard and prefix engines act on it, and the tenant-escape
// suite (integration) runs every command against it.
type KeyAccess uint8

// Key-access classes. The zero value is no class: the test over the
// table fails on it.
const (
	AccessUnclassified KeyAccess = iota
	// AccessNone commands touch no key and show nothing of another
	// domain: connection and protocol commands, help, server statistics
	// that are counts and timings.
	AccessNone
	// AccessKeys commands touch exactly the keys at their key positions
	// (Command.Keys).
	AccessKeys
	// AccessPatterns commands (SORT, SORT_RO) also read keys named by
	// BY and GET patterns, '*' replaced by each element: keys no key
	// position names.
	AccessPatterns
	// AccessMatch commands (KEYS, SCAN) list the names of every key
	// matching a glob pattern, every key when SCAN has no MATCH.
	AccessMatch
	// AccessRandom commands (RANDOMKEY) name a key drawn from the whole
	// keyspace.
	AccessRandom
	// AccessChannels commands publish to, subscribe to or list pub/sub
	// channels, by name or by pattern: a namespace apart from keys.
	AccessChannels
	// AccessTracking commands (CLIENT TRACKING) in BCAST mode report
	// every change to keys under their PREFIX arguments, or to every key
	// without one.
	AccessTracking
	// AccessScript commands run or load code: the keys they declare are
	// at their key positions, and the code can call any other key
	// without declaring it, which the proxy cannot see.
	AccessScript
	// AccessKeyspace commands act on or show the whole keyspace or the
	// server behind it: every domain's keys, values, names, counts, code
	// or credentials. Only a domain that owns the whole keyspace may run
	// them.
	AccessKeyspace
)

var keyAccessNames = [...]string{"unclassified", "none", "keys", "patterns", "match", "random", "channels", "tracking", "script", "keyspace"}

// String is the class as docs/commands.md spells it.
func (a KeyAccess) String() string {
	if int(a) < len(keyAccessNames) {
		return keyAccessNames[a]
	}
	return "unknown"
}

// KeyAccessOf returns the key-access class of c: the class of its spec,
// refined by arguments where they change it (COPY ... DB n reaches
// another database, which the proxy does not serve). Unknown commands are
// AccessUnclassified: Redis refuses them.
func KeyAccessOf(c *Command) KeyAccess {
	s := c.Spec
	if s == nil {
		return AccessUnclassified
	}
	if s.access == AccessKeys && s == specCopy && copyHasDB(c.Args) {
		return AccessKeyspace
	}
	return s.access
}

// KeyAccessWhy is the reason recorded for the key-access class of the
// command named name, or "" when the class is the obvious one.
func KeyAccessWhy(name string) string { return keyAccess[name].why }

// accessEntry is one row of keyAccess.
type accessEntry struct {
	access KeyAccess
	why    string
}

// accessGroup lists commands that share a class for one reason.
type accessGroup struct {
	access KeyAccess
	why    string
	names  []string
}

// keyAccess is the one table of key-access classes, by the table's names.
// docs/commands.md is generated from it (TestKeyAccessDoc -update).
var keyAccess = buildAccess([]accessGroup{
	{AccessKeys, "", []string{
		// Strings and bits.
		"APPEND", "BITCOUNT", "BITFIELD", "BITFIELD_RO", "BITOP", "BITPOS",
		"DECR", "DECRBY", "GET", "GETBIT", "GETDEL", "GETEX", "GETRANGE",
		"GETSET", "INCR", "INCRBY", "INCRBYFLOAT", "LCS", "MGET", "MSET",
		"MSETNX", "PSETEX", "SET", "SETBIT", "SETEX", "SETNX", "SETRANGE",
		"STRLEN", "SUBSTR",
		// Keyspace, one key at a time.
		"DEL", "DUMP", "EXISTS", "EXPIRE", "EXPIREAT", "EXPIRETIME",
		"OBJECT|ENCODING", "OBJECT|FREQ", "OBJECT|IDLETIME",
		"OBJECT|REFCOUNT", "PERSIST", "PEXPIRE", "PEXPIREAT", "PEXPIRETIME",
		"PTTL", "RENAME", "RENAMENX", "RESTORE", "RESTORE-ASKING", "TOUCH",
		"TTL", "TYPE", "UNLINK", "MEMORY|USAGE", "WATCH",
		// Hashes.
		"HDEL", "HEXISTS", "HGET", "HGETALL", "HINCRBY", "HINCRBYFLOAT",
		"HKEYS", "HLEN", "HMGET", "HMSET", "HRANDFIELD", "HSCAN", "HSET",
		"HSETNX", "HSTRLEN", "HVALS",
		// Lists.
		"BLMOVE", "BLMPOP", "BLPOP", "BRPOP", "BRPOPLPUSH", "LINDEX",
		"LINSERT", "LLEN", "LMOVE", "LMPOP", "LPOP", "LPOS", "LPUSH",
		"LPUSHX", "LRANGE", "LREM", "LSET", "LTRIM", "RPOP", "RPOPLPUSH",
		"RPUSH", "RPUSHX",
		// Sets.
		"SADD", "SCARD", "SDIFF", "SDIFFSTORE", "SINTER", "SINTERCARD",
		"SINTERSTORE", "SISMEMBER", "SMEMBERS", "SMISMEMBER", "SMOVE", "SPOP",
		"SRANDMEMBER", "SREM", "SSCAN", "SUNION", "SUNIONSTORE",
		// Sorted sets.
		"BZMPOP", "BZPOPMAX", "BZPOPMIN", "ZADD", "ZCARD", "ZCOUNT", "ZDIFF",
		"ZDIFFSTORE", "ZINCRBY", "ZINTER", "ZINTERCARD", "ZINTERSTORE",
		"ZLEXCOUNT", "ZMPOP", "ZMSCORE", "ZPOPMAX", "ZPOPMIN", "ZRANDMEMBER",
		"ZRANGE", "ZRANGEBYLEX", "ZRANGEBYSCORE", "ZRANGESTORE", "ZRANK",
		"ZREM", "ZREMRANGEBYLEX", "ZREMRANGEBYRANK", "ZREMRANGEBYSCORE",
		"ZREVRANGE", "ZREVRANGEBYLEX", "ZREVRANGEBYSCORE", "ZREVRANK",
		"ZSCAN", "ZSCORE", "ZUNION", "ZUNIONSTORE",
		// Streams.
		"XACK", "XADD", "XAUTOCLAIM", "XCLAIM", "XDEL", "XGROUP|CREATE",
		"XGROUP|CREATECONSUMER", "XGROUP|DELCONSUMER", "XGROUP|DESTROY",
		"XGROUP|SETID", "XINFO|CONSUMERS", "XINFO|GROUPS", "XINFO|STREAM",
		"XLEN", "XPENDING", "XRANGE", "XREAD", "XREADGROUP", "XREVRANGE",
		"XSETID", "XTRIM",
		// Geo and HyperLogLog.
		"GEOADD", "GEODIST", "GEOHASH", "GEOPOS", "GEORADIUS",
		"GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO", "GEORADIUS_RO",
		"GEOSEARCH", "GEOSEARCHSTORE", "PFADD", "PFCOUNT", "PFDEBUG",
		"PFMERGE",
	}},
	{AccessKeys, "both keys are key positions; with DB it writes into another database, which makes it keyspace-wide", []string{
		"COPY",
	}},

	{AccessPatterns, "BY and GET patterns name keys built from the elements ('*' replaced), which no key position shows", []string{
		"SORT", "SORT_RO",
	}},
	{AccessMatch, "lists key names matching a glob pattern (SCAN: every MATCH, every key without one)", []string{
		"KEYS", "SCAN",
	}},
	{AccessRandom, "names a key drawn from the whole keyspace", []string{
		"RANDOMKEY",
	}},
	{AccessChannels, "", []string{
		"PUBLISH", "SPUBLISH", "SUBSCRIBE", "SSUBSCRIBE", "PSUBSCRIBE",
		"UNSUBSCRIBE", "SUNSUBSCRIBE", "PUNSUBSCRIBE", "PUBSUB|CHANNELS",
		"PUBSUB|NUMSUB", "PUBSUB|SHARDCHANNELS", "PUBSUB|SHARDNUMSUB",
	}},
	{AccessTracking, "BCAST reports changes to every key under its PREFIX arguments, to every key without one", []string{
		"CLIENT|TRACKING",
	}},
	{AccessScript, "the code can call keys it does not declare; only declared keys are at key positions", []string{
		"EVAL", "EVALSHA", "EVALSHA_RO", "EVAL_RO", "FCALL", "FCALL_RO",
	}},
	{AccessScript, "loads code that EVALSHA or FCALL runs later", []string{
		"SCRIPT|LOAD", "FUNCTION|LOAD",
	}},
	{AccessScript, "switches the connection's scripts into the debugger", []string{
		"SCRIPT|DEBUG",
	}},

	{AccessKeyspace, "", []string{
		"FLUSHALL", "FLUSHDB", "SWAPDB",
	}},
	{AccessKeyspace, "counts every domain's keys", []string{
		"DBSIZE",
	}},
	{AccessKeyspace, "moves a key into another database, which the proxy does not serve", []string{
		"MOVE",
	}},
	{AccessKeyspace, "makes Redis connect to any host and write keys there, into any database", []string{
		"MIGRATE",
	}},
	{AccessKeyspace, "lists or counts key names of a slot, whoever owns them", []string{
		"CLUSTER|GETKEYSINSLOT", "CLUSTER|COUNTKEYSINSLOT",
	}},
	{AccessKeyspace, "deletes, replaces, kills, shows or dumps every domain's scripts and functions", []string{
		"SCRIPT|FLUSH", "SCRIPT|KILL", "FUNCTION|DELETE", "FUNCTION|DUMP",
		"FUNCTION|FLUSH", "FUNCTION|KILL", "FUNCTION|LIST",
		"FUNCTION|RESTORE",
	}},
	{AccessKeyspace, "shows other clients' commands with their keys and values", []string{
		"SLOWLOG|GET", "MONITOR",
	}},
	{AccessKeyspace, "shows the running function's command, its keys and arguments included, whoever runs it", []string{
		"FUNCTION|STATS",
	}},
	{AccessKeyspace, "the replication stream is every key and every write", []string{
		"SYNC", "PSYNC", "REPLCONF",
	}},
	{AccessKeyspace, "shows or changes users, their rules and password hashes, and their refused keys", []string{
		"ACL|LOG", "ACL|LIST", "ACL|GETUSER", "ACL|USERS", "ACL|DRYRUN",
		"ACL|SAVE", "ACL|SETUSER", "ACL|DELUSER", "ACL|LOAD",
	}},
	{AccessKeyspace, "reads or changes the server's configuration, its passwords (requirepass, masterauth) and files included", []string{
		"CONFIG|GET", "CONFIG|SET", "CONFIG|REWRITE",
	}},
	{AccessKeyspace, "changes what the server is or holds: every domain's data", []string{
		"SHUTDOWN", "REPLICAOF", "SLAVEOF", "FAILOVER", "DEBUG",
		"MODULE|LOAD", "MODULE|LOADEX", "MODULE|UNLOAD",
		"CLUSTER|ADDSLOTS", "CLUSTER|ADDSLOTSRANGE", "CLUSTER|BUMPEPOCH",
		"CLUSTER|DELSLOTS", "CLUSTER|DELSLOTSRANGE", "CLUSTER|FAILOVER",
		"CLUSTER|FLUSHSLOTS", "CLUSTER|FORGET", "CLUSTER|MEET",
		"CLUSTER|REPLICATE", "CLUSTER|RESET", "CLUSTER|SAVECONFIG",
		"CLUSTER|SET-CONFIG-EPOCH", "CLUSTER|SETSLOT",
	}},

	{AccessNone, "", []string{
		"ACL|CAT", "ACL|GENPASS", "ACL|HELP", "ACL|WHOAMI", "ASKING", "AUTH",
		"BGREWRITEAOF", "BGSAVE", "CLIENT|CACHING", "CLIENT|GETNAME",
		"CLIENT|GETREDIR", "CLIENT|HELP", "CLIENT|ID", "CLIENT|INFO",
		"CLIENT|NO-EVICT", "CLIENT|REPLY", "CLIENT|SETNAME",
		"CLIENT|TRACKINGINFO", "CLUSTER|COUNT-FAILURE-REPORTS",
		"CLUSTER|HELP", "CLUSTER|INFO", "CLUSTER|KEYSLOT", "CLUSTER|LINKS",
		"CLUSTER|MYID", "CLUSTER|NODES", "CLUSTER|REPLICAS", "CLUSTER|SHARDS",
		"CLUSTER|SLAVES", "CLUSTER|SLOTS", "COMMAND|COUNT", "COMMAND|DOCS",
		"COMMAND|GETKEYS", "COMMAND|GETKEYSANDFLAGS", "COMMAND|HELP",
		"COMMAND|INFO", "COMMAND|LIST", "CONFIG|HELP", "CONFIG|RESETSTAT",
		"DISCARD", "ECHO", "EXEC", "FUNCTION|HELP", "HELLO",
		"INFO", "LASTSAVE", "LATENCY|DOCTOR", "LATENCY|GRAPH", "LATENCY|HELP",
		"LATENCY|HISTOGRAM", "LATENCY|HISTORY", "LATENCY|LATEST",
		"LATENCY|RESET", "LOLWUT", "MEMORY|DOCTOR", "MEMORY|HELP",
		"MEMORY|MALLOC-STATS", "MEMORY|PURGE", "MEMORY|STATS", "MODULE|HELP",
		"MODULE|LIST", "MULTI", "OBJECT|HELP", "PFSELFTEST", "PING",
		"PUBSUB|HELP", "PUBSUB|NUMPAT", "QUIT", "READONLY", "READWRITE",
		"RESET", "ROLE", "SAVE", "SCRIPT|EXISTS", "SCRIPT|HELP",
		"SLOWLOG|HELP", "SLOWLOG|LEN", "SLOWLOG|RESET", "TIME", "UNWATCH",
		"WAIT", "XGROUP|HELP", "XINFO|HELP",
	}},
	{AccessNone, "the proxy serves database 0 only and refuses the others", []string{
		"SELECT",
	}},
	{AccessNone, "answered by the proxy about its own clients of the caller's workload domain only", []string{
		"CLIENT|LIST", "CLIENT|UNBLOCK",
	}},
	{AccessNone, "refused by the proxy (proxy class): Redis's clients are the proxy's shared connections", []string{
		"CLIENT|KILL", "CLIENT|PAUSE", "CLIENT|UNPAUSE",
	}},
	{AccessNone, "the lock name lives in the commands engine's own namespace (lock_prefix): give each domain its own", []string{
		"KEYWAY.LOCK", "KEYWAY.UNLOCK", "KEYWAY.EXTEND",
	}},
})

var specCopy = Lookup([]byte("COPY"))

// copyHasDB reports whether a COPY names a destination database, which
// Redis reads from "DB n" anywhere after the two keys.
func copyHasDB(args [][]byte) bool {
	for i := 3; i < len(args); i++ {
		if bytes.EqualFold(args[i], []byte("DB")) {
			return true
		}
	}
	return false
}

func buildAccess(groups []accessGroup) map[string]accessEntry {
	m := map[string]accessEntry{}
	for _, g := range groups {
		for _, n := range g.names {
			if _, dup := m[n]; dup {
				panic(fmt.Sprintf("resp: %s has two key-access classes", n))
			}
			m[n] = accessEntry{access: g.access, why: g.why}
		}
	}
	return m
}

// The class is copied onto each spec, as the proxy class is, so the hot
// path reads a field.
func init() {
	for _, table := range []map[string]*Spec{commands, proxyCommands} {
		for _, s := range table {
			s.access = keyAccess[s.Name].access
			for _, sub := range s.Subcommands {
				sub.access = keyAccess[sub.Name].access
			}
		}
	}
}

// AccessRow is one command of the key-access table, for docs and tests.
type AccessRow struct {
	Name   string
	Access KeyAccess
	Why    string
}

// AccessTable returns every command of the table, subcommands in place of
// their containers, with its key-access class, sorted by name.
func AccessTable() []AccessRow {
	rows := ClassTable()
	out := make([]AccessRow, len(rows))
	for i, r := range rows {
		e := keyAccess[r.Name]
		out[i] = AccessRow{Name: r.Name, Access: e.access, Why: e.why}
	}
	return out
}
