package cloud

import (
	"slices"
	"testing"
)

// TestStateRules pins what each rule says of every state, as EC2's
// instance lifecycle defines them.
func TestStateRules(t *testing.T) {
	cases := []struct {
		state             State
		live, settled, up bool
	}{
		{Unknown, true, false, true},
		{Pending, true, false, true},
		{Running, true, true, true},
		{ShuttingDown, false, true, false},
		{Terminated, false, true, false},
		{Stopping, true, true, false},
		{Stopped, true, true, false},
	}
	for _, c := range cases {
		if got := c.state.Live(); got != c.live {
			t.Errorf("%q.Live() = %v", c.state, got)
		}
		if got := c.state.Settled(); got != c.settled {
			t.Errorf("%q.Settled() = %v", c.state, got)
		}
		if got := c.state.Up(); got != c.up {
			t.Errorf("%q.Up() = %v", c.state, got)
		}
	}
	if got, want := StatesWhere(State.Live), []State{Pending, Running, Stopping, Stopped}; !slices.Equal(got, want) {
		t.Errorf("live states %v, want %v", got, want)
	}
}
