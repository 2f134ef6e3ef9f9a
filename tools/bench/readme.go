package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// The README's performance table is the part of README.md between these
// two lines; `make bench-readme` rewrites it from the run's tables.
const (
	readmeBegin = "<!-- bench table: written by make bench-readme from one run, do not edit -->"
	readmeEnd   = "<!-- end of bench table -->"
)

// printed are the tables of this run, in the order printed.
var printed []*table

// writeReadme replaces the bench table of the README at path with this
// run's tables: the date, the machine and, for every row, its ratio to the
// process start and its targets' verdicts.
func writeReadme(path string, began time.Time) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i, j := bytes.Index(old, []byte(readmeBegin)), bytes.Index(old, []byte(readmeEnd))
	if i < 0 || j < i {
		return fmt.Errorf("%s has no lines %q and %q around its bench table", path, readmeBegin, readmeEnd)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nOne run of `make bench-readme`, %s, on %s (%d cores, load average %s at the start). "+
		"\"× start\" is the median wall time over the process start's median in the same run; "+
		"absolute times drift with the machine's load, the ratios hold; CPU time drifts least.\n",
		readmeBegin, began.UTC().Format("2006-01-02 15:04 UTC"), machine(), cores(), loadAverage())
	for _, t := range printed {
		fmt.Fprintf(&b, "\n%s.\n\n", t.title)
		b.WriteString("| operation | median wall | × start | median CPU | peak RSS | AWS calls | targets |\n| --- | --- | --- | --- | --- | --- | --- |\n")
		floor := median(t.floor.wall)
		for i := range t.rows {
			r := &t.rows[i]
			name := r.name
			if r.detail != "" {
				name += " (" + r.detail + ")"
			}
			fmt.Fprintf(&b, "| %s | %s | %.1f | %s | %s | %s | %s |\n", name, ms(median(r.wall)),
				float64(median(r.wall))/float64(floor), ms(median(r.cpu)), rssText(r), callsText(r), strings.Join(verdicts(r, t), "; "))
		}
		for _, n := range t.notes {
			fmt.Fprintf(&b, "\n%s\n", n)
		}
	}
	b.WriteString("\n")
	out := append(append(old[:i:i], b.String()...), old[j:]...)
	return os.WriteFile(path, out, 0o644)
}

// machine names the CPU and the system the run was on.
func machine() string {
	model := "unknown CPU"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(info)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s/%s, %s", runtime.GOOS, runtime.GOARCH, model)
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
