package keyway

import (
	"strings"

	"keyway.dev/cli/internal/audit"
	"keyway.dev/cli/internal/backup"
	"keyway.dev/cli/internal/contexts"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/explain"
	kflag "keyway.dev/cli/internal/flag"
	"keyway.dev/cli/internal/fleet"
	"keyway.dev/cli/internal/policy"
	"keyway.dev/cli/internal/policytest"
	"keyway.dev/cli/internal/rollout"
	"keyway.dev/cli/internal/token"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// jsonShapes are the types each command prints with -o json, one per
// shape its output may take. Help and cli/README.md list their fields,
// and the end-to-end test decodes every command's output against that
// list, so a field cannot change without the documentation changing.
var jsonShapes = map[string][]any{
	"policy validate": {policy.Summary{}},
	"policy push":     {policy.VersionJSON{}, policy.UnchangedJSON{}},
	"policy history":  {policy.HistoryJSON{}},
	"policy show":     {policy.ShowJSON{}},
	"policy diff":     {policy.DiffJSON{}},
	"policy rollback": {policy.RollbackJSON{}},
	"policy test":     {policytest.Report{}},
	"fleet":           {fleet.ListJSON{}},
	"top":             {&keywayv1.TopResponse{}},
	"explain":         {explain.Report{}},
	"flag set":        {kflag.FlagJSON{}},
	"flag list":       {kflag.ListJSON{}},
	"flag delete":     {kflag.FlagJSON{}},
	"rollout start":   {rollout.RolloutJSON{}},
	"rollout status":  {rollout.ListJSON{}, rollout.RolloutJSON{}, rollout.NoRolloutJSON{}},
	"rollout pause":   {rollout.RolloutJSON{}},
	"rollout resume":  {rollout.RolloutJSON{}},
	"rollout promote": {rollout.RolloutJSON{}},
	"rollout abort":   {rollout.RolloutJSON{}},
	"audit":           {audit.ListJSON{}},
	"token create":    {token.InfoJSON{}},
	"token list":      {token.ListJSON{}},
	"token revoke":    {token.InfoJSON{}},
	"version":         {VersionJSON{}},
	"backup export":   {backup.ExportJSON{}},
	"backup import":   {backup.ImportJSON{}},

	"config get-contexts":    {contexts.ListJSON{}},
	"config current-context": {contexts.CurrentJSON{}},
	"config use-context":     {contexts.CurrentJSON{}},
}

// attachJSON sets each command's JSON shapes.
func attachJSON(root *dispatch.Command) {
	root.Walk(func(path string, c *dispatch.Command) {
		if s, ok := jsonShapes[strings.TrimPrefix(path, root.Name+" ")]; ok {
			c.JSON = s
		}
	})
}
