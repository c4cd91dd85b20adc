package transform

import (
	"bytes"
)

// shape is where a command's reply carries stored values.
type shape uint8

const (
	replyNone shape = iota
	// replyBulk is one value (or nil) of the key at Args[1].
	replyBulk
	// replyArray holds the values of the keys at Args[1:], in order.
	replyArray
)

// op is what the engine does with a command whose keys are transformed.
// Commands missing from ops are refused: anything that reads or writes
// values in a way the envelope cannot follow (APPEND, INCR, GETRANGE,
// lists, hashes, scripts ...) would either see ciphertext or put
// plaintext in Redis.
type op struct {
	// pass: the command touches no values (DEL, EXPIRE, TTL ...), so it
	// goes through unchanged and may mix plain and transformed keys.
	pass bool
	// keyAt, valAt and step locate key/value pairs to seal; valAt 0 means
	// none; step 0 means one pair.
	keyAt, valAt, step int
	reply              shape
	// setGet: the reply carries the old value only with SET's GET option.
	setGet bool
	// why is added to the refusal of a command listed only to explain it.
	why string
}

var ops = map[string]*op{
	"SET":    {keyAt: 1, valAt: 2, setGet: true},
	"SETNX":  {keyAt: 1, valAt: 2},
	"SETEX":  {keyAt: 1, valAt: 3},
	"PSETEX": {keyAt: 1, valAt: 3},
	"GETSET": {keyAt: 1, valAt: 2, reply: replyBulk},
	"MSET":   {keyAt: 1, valAt: 2, step: 2},
	"MSETNX": {keyAt: 1, valAt: 2, step: 2},
	"GET":    {reply: replyBulk},
	"GETDEL": {reply: replyBulk},
	"GETEX":  {reply: replyBulk},
	"MGET":   {reply: replyArray},

	// The stored bytes are bound to their key name, so a value moved to
	// another name could no longer be read.
	"RENAME":   {why: "values are bound to their key name"},
	"RENAMENX": {why: "values are bound to their key name"},
	"COPY":     {why: "values are bound to their key name"},
}

func init() {
	for _, name := range []string{
		"DEL", "UNLINK", "EXISTS", "TYPE", "TOUCH", "PERSIST",
		"EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "EXPIRETIME", "PEXPIRETIME", "TTL", "PTTL",
		"OBJECT|ENCODING", "OBJECT|FREQ", "OBJECT|IDLETIME", "OBJECT|REFCOUNT", "MEMORY|USAGE",
		// DUMP and RESTORE carry the envelope, not the value; a RESTORE
		// under another name fails authentication on read, never leaks.
		"DUMP", "RESTORE",
		// Transactions run through the tree like any other command, so
		// WATCH only names keys.
		"WATCH",
	} {
		ops[name] = &op{pass: true}
	}
}

var getArg = []byte("GET")

// replyOf is where r's reply carries values for o.
func (o *op) replyOf(args [][]byte) shape {
	if !o.setGet {
		return o.reply
	}
	for _, a := range args[3:] {
		if bytes.EqualFold(a, getArg) {
			return replyBulk
		}
	}
	return replyNone
}
