// Package etcdkeys lays out every key Keyway keeps in etcd, in one place,
// so that an operator granting etcd permissions, a backup script, or a
// newcomer reading a dump sees the whole tree here. Everything lives
// under one prefix per fleet; several fleets may share an etcd cluster.
//
//	/keyway/<fleet>/
//	  head                                    newest version number
//	  active                                  the version proxies run
//	  versions/<v, 20 digits>                 one record per policy version
//	  status/<node id>                        each proxy's last reported state (leased)
//	  domains/<domain>/rollouts/<n, 10 digits> one record per rollout
//	  domains/<domain>/pin                    the domain's pinned version, if any
//	  flags/<domain>/<flag>                   feature-flag percentages
//	  tokens/name/<name>, tokens/sha256/<hash> admin API tokens
//	  audit/<ns since 1970, 20 digits>-<random> audit log of admin calls
//	  rollout-leader/                         etcd election of the rollout driver
//	  telemetry/replicas/<replica>/<run>/<end> telemetry a replica shares (leased)
//
// Numbers are zero-padded so that etcd's byte order is numeric order.
package etcdkeys

import (
	"fmt"
	"strings"
)

// Root is the prefix of every Keyway key: the one an etcd role needs
// readwrite on.
const Root = "/keyway/"

// DefaultFleet is the fleet of a control plane started without --fleet.
const DefaultFleet = "default"

// Fleet is the key tree of one fleet.
type Fleet struct{ base string }

// For returns the tree of fleet ("" is DefaultFleet).
func For(fleet string) Fleet {
	if fleet == "" {
		fleet = DefaultFleet
	}
	return Fleet{base: Root + fleet + "/"}
}

// Base is the fleet's own prefix, "/keyway/<fleet>/".
func (f Fleet) Base() string { return f.base }

// Head holds the newest version number.
func (f Fleet) Head() string { return f.base + "head" }

// Active holds the number of the version proxies run.
func (f Fleet) Active() string { return f.base + "active" }

// Versions is the prefix of the version records.
func (f Fleet) Versions() string { return f.base + "versions/" }

// Version is the record of version v.
func (f Fleet) Version(v uint64) string { return fmt.Sprintf("%s%020d", f.Versions(), v) }

// Statuses is the prefix of the proxies' status records.
func (f Fleet) Statuses() string { return f.base + "status/" }

// Status is the status record of the proxy with node id.
func (f Fleet) Status(id string) string { return f.Statuses() + id }

// Domains is the prefix of per-domain records (rollouts and pins).
func (f Fleet) Domains() string { return f.base + "domains/" }

// Rollouts is the prefix of domain's rollout records.
func (f Fleet) Rollouts(domain string) string { return f.Domains() + domain + "/rollouts/" }

// Rollout is the record of domain's rollout number n.
func (f Fleet) Rollout(domain string, n uint64) string {
	return fmt.Sprintf("%s%010d", f.Rollouts(domain), n)
}

// Pin is domain's pin record.
func (f Fleet) Pin(domain string) string { return f.Domains() + domain + "/pin" }

// Flags is the prefix of the feature flags, flags/<domain>/<flag>.
func (f Fleet) Flags() string { return f.base + "flags/" }

// Tokens is the prefix of the admin tokens.
func (f Fleet) Tokens() string { return f.base + "tokens/" }

// TokensByName is the prefix of tokens indexed by their name.
func (f Fleet) TokensByName() string { return f.Tokens() + "name/" }

// TokensByHash is the prefix of tokens indexed by their secret's hash.
func (f Fleet) TokensByHash() string { return f.Tokens() + "sha256/" }

// Audit is the prefix of the audit log.
func (f Fleet) Audit() string { return f.base + "audit/" }

// RolloutLeader is the election prefix of the rollout driver.
func (f Fleet) RolloutLeader() string { return f.base + "rollout-leader" }

// TelemetryReplicas is the prefix of the telemetry replicas share.
func (f Fleet) TelemetryReplicas() string { return f.base + "telemetry/replicas/" }

// TelemetryRun is the prefix of one run of replica's shared telemetry;
// a slash in the replica's name would add a level, so it becomes '_'.
func (f Fleet) TelemetryRun(replica string, run int64) string {
	return fmt.Sprintf("%s%s/%x/", f.TelemetryReplicas(), strings.ReplaceAll(replica, "/", "_"), run)
}
