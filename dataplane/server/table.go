package server

import (
	"keyway.dev/dataplane/resp"
)

// needsDedicated reports commands that must not share a multiplexed
// upstream connection; resp's class table (proxyclass.go) decides.
func needsDedicated(cmd *resp.Command) bool {
	return resp.NeedsDedicated(cmd)
}
