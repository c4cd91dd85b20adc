package server

import (
	"keyway.dev/dataplane/resp"
)

// needsDedicated reports commands that leave state on the connection or
// may block it: they cannot share a multiplexed upstream connection.
func needsDedicated(cmd *resp.Command) bool {
	return cmd.Spec.Has(resp.FlagConnState) || resp.IsBlocking(cmd)
}
