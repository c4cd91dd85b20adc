package rollout

import (
	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// ListJSON is the JSON form of `keyway rollout status` without a domain.
// Field names are part of the CLI's contract.
type ListJSON struct {
	Rollouts []RolloutJSON `json:"rollouts"`
	Pins     []PinJSON     `json:"pins"`
}

// RolloutJSON is one rollout.
type RolloutJSON struct {
	ID     string `json:"id"`
	Domain string `json:"domain"`
	From   string `json:"from"`
	To     string `json:"to"`
	State  string `json:"state"`
	// Step counts from 1, as the table's "step 1 of 2" does.
	Step         uint32      `json:"step"`
	Steps        []uint32    `json:"steps"`
	Percent      uint32      `json:"percent"`
	Interval     string      `json:"interval"`
	MaxErrorRate float64     `json:"max_error_rate"`
	MaxP99       string      `json:"max_p99"`
	NextStep     string      `json:"next_step,omitempty"`
	Guards       *GuardsJSON `json:"guards"`
	Reason       string      `json:"reason"`
	Author       string      `json:"author"`
	Created      string      `json:"created"`
	Updated      string      `json:"updated"`
	Finished     string      `json:"finished,omitempty"`
	Pin          *PinJSON    `json:"pin,omitempty"`
}

// GuardsJSON are the controller's last readings.
type GuardsJSON struct {
	Time    string    `json:"time"`
	Stable  TrackJSON `json:"stable"`
	Canary  TrackJSON `json:"canary"`
	Waiting string    `json:"waiting,omitempty"`
}

// TrackJSON is one track over the last interval.
type TrackJSON struct {
	Requests   uint64  `json:"requests"`
	Errors     uint64  `json:"errors"`
	P99Seconds float64 `json:"p99_seconds"`
}

// PinJSON is a domain held on a version other than the active one.
type PinJSON struct {
	Domain      string `json:"domain,omitempty"`
	Version     string `json:"version"`
	BaseVersion string `json:"base_version"`
	RolloutID   string `json:"rollout_id"`
}

func toJSON(r *keywayv1.Rollout) RolloutJSON {
	j := RolloutJSON{
		ID: r.GetId(), Domain: r.GetDomain(), From: version(r.GetFromVersion()), To: version(r.GetToVersion()),
		State: state(r.GetState()), Step: r.GetStep() + 1, Steps: r.GetSteps(), Percent: r.GetPercent(),
		Interval: r.GetInterval().AsDuration().String(), MaxErrorRate: r.GetMaxErrorRate(),
		Reason: r.GetReason(), Author: r.GetAuthor(),
		Created: output.Stamp(output.TimeOf(r.GetCreated())), Updated: output.Stamp(output.TimeOf(r.GetUpdated())),
	}
	if d := r.GetMaxP99().AsDuration(); d > 0 {
		j.MaxP99 = d.String()
	}
	if r.GetFinished() != nil {
		j.Finished = output.Stamp(output.TimeOf(r.GetFinished()))
	}
	if g := r.GetGuards(); g != nil {
		track := func(t *keywayv1.TrackReading) TrackJSON {
			return TrackJSON{Requests: t.GetRequests(), Errors: t.GetErrors(), P99Seconds: t.GetP99().AsDuration().Seconds()}
		}
		j.Guards = &GuardsJSON{Time: output.Stamp(output.TimeOf(g.GetTime())), Stable: track(g.GetStable()), Canary: track(g.GetCanary()), Waiting: g.GetWaiting()}
	}
	if j.Steps == nil {
		j.Steps = []uint32{}
	}
	return j
}
