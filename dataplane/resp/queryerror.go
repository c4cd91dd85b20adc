package resp

// QueryError is a malformed or oversized request. Its text is the error
// line Redis sends before closing the connection, "ERR Protocol error:
// ...", so the server can reply with it as is.
type QueryError struct{ msg string }

// Error is the reply text, "ERR Protocol error: ...".
func (e *QueryError) Error() string { return e.msg }

// Request errors, worded as redis-server 7.0 words them (networking.c),
// except ErrTooBigRequest: Redis closes such a client without a reply.
var (
	ErrInvalidMultibulkLength = &QueryError{"ERR Protocol error: invalid multibulk length"}
	ErrInvalidBulkLength      = &QueryError{"ERR Protocol error: invalid bulk length"}
	ErrTooBigMultibulkCount   = &QueryError{"ERR Protocol error: too big mbulk count string"}
	ErrTooBigBulkCount        = &QueryError{"ERR Protocol error: too big bulk count string"}
	ErrTooBigInline           = &QueryError{"ERR Protocol error: too big inline request"}
	ErrUnbalancedQuotes       = &QueryError{"ERR Protocol error: unbalanced quotes in request"}
	ErrTooBigRequest          = &QueryError{"ERR Protocol error: too big request"}
)

// expectedDollar is "expected '$', got 'x'". Redis formats the byte with
// %c into a C string, so a NUL ends the text there, and line breaks
// become spaces.
func expectedDollar(c byte) *QueryError {
	const prefix = "ERR Protocol error: expected '$', got '"
	switch c {
	case 0:
		return &QueryError{prefix}
	case '\r', '\n':
		c = ' '
	}
	return &QueryError{prefix + string(c) + "'"}
}
