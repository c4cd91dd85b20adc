package rollout

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// The transitions below change a rollout record in place. The service
// and the controller both use them, so an operator's action and the
// controller's decision mean the same thing.

// ErrFinished refuses an action on a rollout that completed or aborted.
type ErrFinished struct{ R *keywayv1.Rollout }

func (e *ErrFinished) Error() string {
	return fmt.Sprintf("rollout %s is already %s", e.R.GetId(), StateName(e.R.GetState()))
}

func touch(r *keywayv1.Rollout, now time.Time) { r.Updated = timestamppb.New(now) }

// pause stops the step clock of a running rollout.
func pause(r *keywayv1.Rollout, now time.Time) error {
	switch r.GetState() {
	case keywayv1.RolloutState_ROLLOUT_STATE_PAUSED:
		return fmt.Errorf("rollout %s is already paused", r.GetId())
	case keywayv1.RolloutState_ROLLOUT_STATE_RUNNING:
	default:
		return &ErrFinished{r}
	}
	r.StepElapsed = durationpb.New(InStep(r, now))
	r.State = keywayv1.RolloutState_ROLLOUT_STATE_PAUSED
	touch(r, now)
	return nil
}

// resume restarts the step clock of a paused rollout where it stopped.
func resume(r *keywayv1.Rollout, now time.Time) error {
	switch r.GetState() {
	case keywayv1.RolloutState_ROLLOUT_STATE_RUNNING:
		return fmt.Errorf("rollout %s is not paused", r.GetId())
	case keywayv1.RolloutState_ROLLOUT_STATE_PAUSED:
	default:
		return &ErrFinished{r}
	}
	r.StepStarted = timestamppb.New(now)
	r.State = keywayv1.RolloutState_ROLLOUT_STATE_RUNNING
	touch(r, now)
	return nil
}

// advance moves a running rollout to its next step and restarts the clock.
func advance(r *keywayv1.Rollout, now time.Time) error {
	if !Unfinished(r) {
		return &ErrFinished{r}
	}
	if int(r.GetStep())+1 >= len(r.GetSteps()) {
		return fmt.Errorf("rollout %s is at its last step", r.GetId())
	}
	r.Step++
	r.Percent = r.GetSteps()[r.GetStep()]
	r.StepStarted = timestamppb.New(now)
	r.StepElapsed = durationpb.New(0)
	touch(r, now)
	return nil
}

// complete finishes a rollout with its target as the domain's stable
// version; reason is empty when the rollout ran its course.
func complete(r *keywayv1.Rollout, now time.Time, reason string) error {
	if !Unfinished(r) {
		return &ErrFinished{r}
	}
	r.State = keywayv1.RolloutState_ROLLOUT_STATE_COMPLETED
	r.Step = uint32(len(r.GetSteps()) - 1)
	r.Percent = 100
	r.Reason = reason
	r.Finished = timestamppb.New(now)
	touch(r, now)
	return nil
}

// abort finishes a rollout with the domain back on its stable version.
func abort(r *keywayv1.Rollout, now time.Time, reason string) error {
	if !Unfinished(r) {
		return &ErrFinished{r}
	}
	r.State = keywayv1.RolloutState_ROLLOUT_STATE_ABORTED
	r.Reason = reason
	r.Finished = timestamppb.New(now)
	touch(r, now)
	return nil
}
