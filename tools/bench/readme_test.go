package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWriteReadme: the table between the two marker lines is replaced by
// the run's tables, the rest of the README is kept, and a second run
// replaces the first one's table instead of adding to it.
func TestWriteReadme(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	before, after := "# ohfp\n\nintro\n\n", "\nWhere the time goes: kept.\n"
	if err := os.WriteFile(path, []byte(before+readmeBegin+"\nold table\n"+readmeEnd+after), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { printed = nil })
	floor := row{step: step{name: "process start"}, wall: []time.Duration{10 * time.Millisecond}, cpu: []time.Duration{9 * time.Millisecond}}
	op := row{step: step{name: "getRequestStatus", targets: []target{startTimes(4)}},
		wall: []time.Duration{30 * time.Millisecond}, cpu: []time.Duration{20 * time.Millisecond}, aws: []time.Duration{0}, rss: 40 << 20}
	for run := range 2 {
		printed = []*table{{title: "Whole processes", floor: floor, rows: []row{floor, op}}}
		if err := writeReadme(path, time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got := string(b)
		if !strings.HasPrefix(got, before+readmeBegin) || !strings.HasSuffix(got, readmeEnd+after) || strings.Contains(got, "old table") {
			t.Fatalf("run %d: the README around the table changed:\n%s", run, got)
		}
		if n := strings.Count(got, "| getRequestStatus | 30.0ms | 3.0 | 20.0ms | 40.0MiB | 0.0 | <= 4 x start: yes |"); n != 1 {
			t.Errorf("run %d: the row is there %d times:\n%s", run, n, got)
		}
		if !strings.Contains(got, "2026-12-02 03:00 UTC") {
			t.Errorf("run %d: no date:\n%s", run, got)
		}
	}
}
