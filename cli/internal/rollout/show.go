package rollout

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// show prints one rollout in detail.
func show(a *app.App, r *keywayv1.Rollout, pin *keywayv1.Pin, next *timestamppb.Timestamp) error {
	if a.JSON() {
		j := toJSON(r)
		if next != nil {
			j.NextStep = output.Stamp(output.TimeOf(next))
		}
		if pin != nil {
			j.Pin = &PinJSON{Version: version(pin.GetVersion()), BaseVersion: version(pin.GetBaseVersion()), RolloutID: pin.GetRolloutId()}
		}
		return output.WriteJSON(a.Stdout, j)
	}
	now := a.Now()
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%-10s %s\n", k+":", v) }
	line("rollout", r.GetId())
	line("domain", r.GetDomain())
	line("versions", fmt.Sprintf("%s → %s", version(r.GetFromVersion()), version(r.GetToVersion())))
	line("state", state(r.GetState()))
	line("step", fmt.Sprintf("%d of %d (%s)", r.GetStep()+1, len(r.GetSteps()), stepList(r)))
	line("canary", fmt.Sprintf("%d%% of connections", r.GetPercent()))
	line("interval", r.GetInterval().AsDuration().String())
	if next != nil {
		line("next step", "in "+roundUp(output.TimeOf(next).Sub(now)).String())
	}
	guards := fmt.Sprintf("error rate ≤ %.2f%%", 100*r.GetMaxErrorRate())
	if d := r.GetMaxP99().AsDuration(); d > 0 {
		guards += fmt.Sprintf(", p99 ≤ %s", d)
	}
	line("guards", guards)
	if g := r.GetGuards(); g != nil {
		line("stable", reading(g.GetStable()))
		line("canary", reading(g.GetCanary()))
		if g.GetWaiting() != "" {
			line("waiting", g.GetWaiting())
		}
	}
	if r.GetReason() != "" {
		line("reason", r.GetReason())
	}
	if pin != nil {
		line("pinned", fmt.Sprintf("%s while %s is active (by %s)", version(pin.GetVersion()), version(pin.GetBaseVersion()), pin.GetRolloutId()))
	}
	line("started", fmt.Sprintf("%s ago by %s", output.Age(now, output.TimeOf(r.GetCreated())), output.Dash(r.GetAuthor())))
	_, err := fmt.Fprint(a.Stdout, b.String())
	return err
}

// list prints one row per rollout.
func list(a *app.App, resp *keywayv1.ListRolloutsResponse) error {
	if a.JSON() {
		out := ListJSON{Rollouts: []RolloutJSON{}, Pins: []PinJSON{}}
		for _, r := range resp.GetRollouts() {
			out.Rollouts = append(out.Rollouts, toJSON(r))
		}
		for _, p := range resp.GetPins() {
			out.Pins = append(out.Pins, PinJSON{Domain: p.GetDomain(), Version: version(p.GetVersion()), BaseVersion: version(p.GetBaseVersion()), RolloutID: p.GetRolloutId()})
		}
		return output.WriteJSON(a.Stdout, out)
	}
	if len(resp.GetRollouts()) == 0 {
		_, err := fmt.Fprintln(a.Stdout, "no rollouts")
		return err
	}
	tw := output.NewTable(a.Stdout, "DOMAIN", "ROLLOUT", "VERSIONS", "STATE", "CANARY", "STEP", "UPDATED", "REASON")
	for _, r := range resp.GetRollouts() {
		output.Row(tw, r.GetDomain(), r.GetId(), version(r.GetFromVersion())+"→"+version(r.GetToVersion()), state(r.GetState()),
			fmt.Sprintf("%d%%", r.GetPercent()), fmt.Sprintf("%d/%d", r.GetStep()+1, len(r.GetSteps())),
			output.Age(a.Now(), output.TimeOf(r.GetUpdated())), output.Truncate(output.Dash(r.GetReason()), 60))
	}
	return tw.Flush()
}

func reading(t *keywayv1.TrackReading) string {
	if t.GetRequests() == 0 {
		return "no requests in the last interval"
	}
	rate := float64(t.GetErrors()) / float64(t.GetRequests())
	return fmt.Sprintf("%d requests, %d errors (%.2f%%), p99 %s", t.GetRequests(), t.GetErrors(), 100*rate, t.GetP99().AsDuration())
}

func stepList(r *keywayv1.Rollout) string {
	parts := make([]string, len(r.GetSteps()))
	for i, s := range r.GetSteps() {
		parts[i] = fmt.Sprintf("%d%%", s)
		if uint32(i) == r.GetStep() {
			parts[i] = "[" + parts[i] + "]"
		}
	}
	return strings.Join(parts, " ")
}

func state(s keywayv1.RolloutState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "ROLLOUT_STATE_"))
}

func version(v uint64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("v%d", v)
}

func roundUp(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d.Round(time.Second)
}
