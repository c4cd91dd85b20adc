package resp

// proxyCommands are the custom commands Keyway's engines answer
// themselves (the commands engine's lease locks). They are kept apart
// from the generated table, which mirrors redis-server exactly, and have
// no keys: a lock name lives in the engine's own namespace, so routes and
// guards do not treat it as an application key.
var proxyCommands = map[string]*Spec{
	"KEYWAY.LOCK":   {Name: "KEYWAY.LOCK", Arity: 3, Flags: FlagWrite},
	"KEYWAY.UNLOCK": {Name: "KEYWAY.UNLOCK", Arity: 3, Flags: FlagWrite},
	"KEYWAY.EXTEND": {Name: "KEYWAY.EXTEND", Arity: 4, Flags: FlagWrite},
}
