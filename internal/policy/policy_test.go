package policy

import (
	"testing"
	"time"
)

func TestParseStep(t *testing.T) {
	for in, want := range map[string]Step{
		"5:10": {5, 10 * time.Minute}, " 0 : 1 ": {0, time.Minute}, "10:1440": {10, 24 * time.Hour},
	} {
		if got, err := ParseStep(in); err != nil || got != want {
			t.Errorf("ParseStep(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "5", "5:", ":10", "5:0", "-1:10", "5:-10", "a:b", "5:10:2", "1.5:10"} {
		if _, err := ParseStep(bad); err == nil {
			t.Errorf("ParseStep(%q) accepted", bad)
		}
	}
}

func TestWindowIsAlignedOnTheEpoch(t *testing.T) {
	s := Step{Count: 5, Every: 10 * time.Minute}
	for _, c := range []struct{ at, start string }{
		{"2026-03-01T12:00:00Z", "2026-03-01T12:00:00Z"},
		{"2026-03-01T12:09:59Z", "2026-03-01T12:00:00Z"},
		{"2026-03-01T12:09:59.999999999Z", "2026-03-01T12:00:00Z"}, // the last instant of a window is in it
		{"2026-03-01T12:10:00.000000001Z", "2026-03-01T12:10:00Z"},
		{"2026-03-01T12:10:00Z", "2026-03-01T12:10:00Z"},
		{"1969-12-31T23:55:00Z", "1969-12-31T23:50:00Z"},
	} {
		at, _ := time.Parse(time.RFC3339Nano, c.at)
		start, end := s.Window(at)
		if start.Format(time.RFC3339) != c.start || end.Sub(start) != s.Every {
			t.Errorf("Window(%s) = %s..%s, want start %s", c.at, start, end, c.start)
		}
	}
}

func TestMatching(t *testing.T) {
	p := Policy{Name: "P", Consumer: Consumer{Match: map[Dimension][]string{
		DimAccount: {"default", "proj"}, DimTemplate: {"gpu-*"}, DimProvider: {"all"},
	}, Per: map[Dimension][]string{DimAccount: {"proj"}}}}
	for _, c := range []struct {
		c     Caller
		apply bool
		scope string
	}{
		{Caller{Template: "gpu-a"}, true, "P"}, // no account: default
		{Caller{Account: "proj", Template: "gpu-b", Provider: "x"}, true, "P|rcAccount=proj"},
		{Caller{Account: "other", Template: "gpu-a"}, false, ""},
		{Caller{Account: "proj", Template: "cpu"}, false, ""},
	} {
		if got := p.Applies(c.c); got != c.apply {
			t.Errorf("Applies(%+v) = %v", c.c, got)
		}
		if c.apply && p.Scope(c.c) != c.scope {
			t.Errorf("Scope(%+v) = %q, want %q", c.c, p.Scope(c.c), c.scope)
		}
	}
	if p.Universal("gpu-a", "x") {
		t.Error("a policy of two accounts applies to every caller")
	}
	all := Policy{Consumer: Consumer{Match: map[Dimension][]string{DimTemplate: {"gpu-*"}}}}
	if !all.Universal("gpu-a", "x") || all.Universal("cpu", "x") {
		t.Error("Universal is wrong for a template-only policy")
	}
}

func TestFitTightestWins(t *testing.T) {
	ls := []Limit{
		{Policy: "wide", Kind: KindMaxNumber, Max: 100, Use: 10, Weight: 1},
		{Policy: "cpu", Kind: KindMaxVCPUs, Max: 64, Use: 40, Weight: 8}, // 3 machines of 8
		{Policy: "none", Kind: KindMaxNumber, Max: -1, Weight: 1},
	}
	if n, l := Fit(ls, 10); n != 3 || l.Policy != "cpu" {
		t.Errorf("Fit = %d by %+v, want 3 by cpu", n, l)
	}
	if n, l := Fit(ls, 2); n != 2 || l != nil {
		t.Errorf("Fit(2) = %d by %+v, want 2 and no limit", n, l)
	}
	ls[1].Use = 70 // above its max after a policy change: no room, not negative
	if n, _ := Fit(ls, 1); n != 0 {
		t.Errorf("over-full limit gave %d", n)
	}
}
