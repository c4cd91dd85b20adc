package admin

import (
	"context"

	"keyway.dev/controlplane/auth"
)

// recordedAuthor is who a version or an activation is recorded as. When
// the admin API authenticated the caller, that identity ("token:ci",
// "cert:alice") is the author and the name the client gave (--author,
// which anyone can type) is kept as a note if it differs; without
// authentication the client's name is all there is ("unknown" if none),
// as the audit log records it.
func recordedAuthor(ctx context.Context, claimed string) (author, note string) {
	if id := auth.Identity(ctx); id != "" {
		if claimed != "" && claimed != id {
			note = claimed
		}
		return id, note
	}
	if claimed == "" {
		claimed = "unknown"
	}
	return claimed, ""
}
