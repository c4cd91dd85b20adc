// Package auth decides who may call keyway-control. Admin API callers
// authenticate with a bearer token (kept hashed in etcd) or a client
// certificate mapped to a role, and each admin method needs a minimum
// role. Proxies authenticate with a client certificate and may subscribe
// to ADS and report telemetry only as the node the certificate names.
package auth

import (
	"fmt"
	"strings"
)

// Role is what a caller may do. Roles are ordered: each includes every
// permission of the roles below it.
type Role int

// The roles, weakest first. None is an authenticated caller with no
// role, which no admin method accepts.
const (
	None Role = iota
	// Viewer reads: policy versions, diffs, the fleet, telemetry, audit.
	Viewer
	// Author also validates and pushes policies.
	Author
	// Operator also activates and rolls back versions, sets flags and
	// drives rollouts.
	Operator
	// Admin also manages tokens.
	Admin
)

var roleNames = [...]string{None: "none", Viewer: "viewer", Author: "author", Operator: "operator", Admin: "admin"}

// String is the role's lowercase name.
func (r Role) String() string {
	if r < None || int(r) >= len(roleNames) {
		return fmt.Sprintf("role(%d)", int(r))
	}
	return roleNames[r]
}

// ParseRole reads a role name; "none" is not one a caller can be given.
func ParseRole(s string) (Role, error) {
	for r := Viewer; r <= Admin; r++ {
		if strings.EqualFold(s, roleNames[r]) {
			return r, nil
		}
	}
	return None, fmt.Errorf("unknown role %q (want viewer, author, operator or admin)", s)
}
