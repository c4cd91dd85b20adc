package frontend

// sameDomain reports whether o belongs to c's workload domain. The
// proxy's client commands that name or list other clients (CLIENT LIST,
// CLIENT UNBLOCK) see only the caller's domain: another domain's client
// names, addresses, users and blocked commands are that domain's
// business, as its keys are.
func (c *client) sameDomain(o *client) bool {
	if o == c {
		return true
	}
	mine, _, _ := c.snapshot()
	theirs, _, _ := o.snapshot()
	return mine.Domain == theirs.Domain
}
