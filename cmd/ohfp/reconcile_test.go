package main

import (
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/broker"
)

// Past the budget, a person sees the plan and must type yes.
func TestConfirm(t *testing.T) {
	rec := broker.Reconciliation{Checked: 30, Budget: 20, OverBudget: []string{"i-0001", "i-0002"}}
	for answer, want := range map[string]bool{"yes\n": true, "yes": true, " yes \n": true, "y\n": false, "no\n": false, "": false, "YES\n": false} {
		var out strings.Builder
		if got := confirm(strings.NewReader(answer), &out, rec); got != want {
			t.Errorf("answer %q: %v, want %v", answer, got, want)
		}
		if !strings.Contains(out.String(), "terminate 2 instances") || !strings.Contains(out.String(), "  i-0002\n") || !strings.Contains(out.String(), "budget of 20 (of 30 live)") {
			t.Errorf("plan shown:\n%s", out.String())
		}
	}
}
