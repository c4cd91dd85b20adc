package resp

// Limits bound what a client may send in one command. The zero value of
// a field means Redis's default.
type Limits struct {
	// MaxBulk is the longest argument, Redis's proto-max-bulk-len.
	MaxBulk int64
	// MaxArgs is the most arguments in one multibulk command.
	MaxArgs int
	// MaxRequest is the most bytes one command may take on the wire,
	// headers included: Redis's client-query-buffer-limit, applied per
	// command so the proxy never buffers more than this for one client.
	MaxRequest int64
}

// Redis's defaults, and the fixed inline limit.
const (
	DefaultMaxBulk    = 512 << 20
	DefaultMaxArgs    = 1 << 20
	DefaultMaxRequest = 1 << 30
	// MaxInline is PROTO_INLINE_MAX_SIZE: the longest inline command, and
	// the longest header line of a multibulk command.
	MaxInline = 64 << 10
)

// withDefaults fills zero fields with Redis's defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxBulk <= 0 {
		l.MaxBulk = DefaultMaxBulk
	}
	if l.MaxArgs <= 0 {
		l.MaxArgs = DefaultMaxArgs
	}
	if l.MaxRequest <= 0 {
		l.MaxRequest = DefaultMaxRequest
	}
	return l
}
