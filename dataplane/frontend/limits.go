package frontend

import (
	"time"

	"keyway.dev/dataplane/frontend/identity"
	"keyway.dev/dataplane/resp"
)

// Limits bound what one client may make the proxy hold. DefaultLimits
// mirrors Redis's defaults so that clients see the same refusals they
// would see talking to Redis directly. The request limits are enforced by
// resp.Scanner, where zero means Redis's default; elsewhere zero is off.
type Limits struct {
	// MaxBulkLen caps one argument (Redis proto-max-bulk-len).
	MaxBulkLen int64
	// MaxArgs caps the arguments of one command (Redis refuses a
	// multibulk header above 1024*1024).
	MaxArgs int64
	// MaxQueryBuffer caps the bytes of one request that may be buffered
	// before it is complete (Redis client-query-buffer-limit).
	MaxQueryBuffer int64
	// MaxClients caps concurrent client connections (Redis maxclients).
	MaxClients int
	// IdleTimeout closes connections that send nothing for this long
	// (Redis timeout); 0 is off.
	IdleTimeout time.Duration
	// MaxOutputBuffer caps the reply bytes held for one connection that
	// the client has not taken yet (Redis client-output-buffer-limit hard
	// limit); a connection over it is closed. 0 is off.
	MaxOutputBuffer int64
	// WriteTimeout closes a connection whose client does not take its
	// replies for this long (the soft side of client-output-buffer-limit);
	// 0 is off.
	WriteTimeout time.Duration
	// MaxPubSubOutput caps the pushed messages held for one subscribed
	// client that it has not read yet (Redis's pubsub class of
	// client-output-buffer-limit, 32 MB hard); a client over it is
	// closed. 0 is off.
	MaxPubSubOutput int64
	// Auth slows down failed AUTH per source address (identity.Throttle).
	Auth AuthLimits
}

// request is what the reader refuses.
func (l Limits) request() resp.Limits {
	return resp.Limits{MaxBulk: l.MaxBulkLen, MaxArgs: int(l.MaxArgs), MaxRequest: l.MaxQueryBuffer}
}

// AuthLimits tune the slowing down of failed AUTH (identity.Limits).
type AuthLimits = identity.Limits

// AuthStats are the counters of failed authentication (identity.Stats).
type AuthStats = identity.Stats

// DefaultAuthLimits are identity.DefaultLimits.
func DefaultAuthLimits() AuthLimits { return identity.DefaultLimits() }

// AuthStats returns the failed-authentication counters, for telemetry.
func (s *Server) AuthStats() AuthStats { return s.auth.Stats(time.Now()) }

// DefaultLimits returns Redis's defaults plus output bounds Redis leaves
// off for normal clients, because a proxy multiplexes many of them and
// must not let one slow reader hold memory forever.
func DefaultLimits() Limits {
	return Limits{
		MaxBulkLen:      512 << 20,
		MaxArgs:         1024 * 1024,
		MaxQueryBuffer:  1 << 30,
		MaxClients:      10000,
		MaxOutputBuffer: 256 << 20,
		WriteTimeout:    60 * time.Second,
		MaxPubSubOutput: 32 << 20,
		Auth:            DefaultAuthLimits(),
	}
}
