package admin

import (
	"context"
	"testing"

	"keyway.dev/controlplane/auth"
)

func TestRecordedAuthor(t *testing.T) {
	authed := auth.WithIdentity(context.Background(), "token:ci", auth.Author)
	tests := []struct {
		ctx                   context.Context
		claimed, author, note string
	}{
		{authed, "mallory", "token:ci", "mallory"},
		{authed, "token:ci", "token:ci", ""},
		{authed, "", "token:ci", ""},
		{context.Background(), "alice", "alice", ""},
		{context.Background(), "", "unknown", ""},
	}
	for _, tt := range tests {
		author, note := recordedAuthor(tt.ctx, tt.claimed)
		if author != tt.author || note != tt.note {
			t.Errorf("recordedAuthor(%q) = %q, %q; want %q, %q", tt.claimed, author, note, tt.author, tt.note)
		}
	}
}
