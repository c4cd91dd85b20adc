// Package resp parses client commands and frames Redis replies. It does no
// I/O: the server reads bytes, resp says what they mean.
//
// The command side holds every Redis 7 command (table_gen.go, generated
// from a real redis-server's COMMAND reply), finds key positions, classes
// and Redis's own refusal texts, writes RESP, and scans request bytes as
// they arrive so oversized or malformed input is refused before it is
// buffered. Regenerate the table with a redis-server on PATH:
//
//	cd dataplane/resp && go generate
//
// or against a running server:
//
//	go run ./internal/gencommands -addr 127.0.0.1:6379
package resp

//go:generate go run ./internal/gencommands -out table_gen.go
//go:generate go run ./internal/genpolicynames -out ../../policy/commandnames/names_gen.go
