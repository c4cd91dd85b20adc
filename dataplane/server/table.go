package server

import (
	"keyway.dev/dataplane/resp"
)

// needsDedicated reports commands that leave state on the connection or
// may block it: they cannot share a multiplexed upstream connection.
func needsDedicated(cmd *resp.Command) bool {
	return cmd.Spec.Has(resp.FlagConnState) || resp.IsBlocking(cmd)
}

// refuseDedicated answers a command that needs a dedicated upstream
// connection, which this proxy cannot give yet.
func (c *client) refuseDedicated(s *resp.Spec) {
	c.writeError("ERR keyway: " + s.Name + " needs a dedicated upstream connection, which this proxy does not support yet")
}
