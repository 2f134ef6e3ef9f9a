package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/store"
)

// Refresher follows requests without claiming them (the broker).
type Refresher interface {
	Refresh(ctx context.Context, ids []string) ([]broker.RequestStatus, error)
}

// Watch polls the status of r every interval until it is finished, and
// draws its progress: a bar redrawn in place on a terminal, a line per
// change otherwise. now gives the time, for the elapsed time shown. It
// returns the last status.
func Watch(ctx context.Context, s Refresher, r store.Request, every time.Duration, w io.Writer, terminal bool, now func() time.Time) (broker.RequestStatus, error) {
	want := r.MachineCount
	if r.Kind == store.KindReturn {
		want = len(r.Machines)
	}
	last := ""
	for {
		sts, err := s.Refresh(ctx, []string{r.ID})
		if err != nil {
			return broker.RequestStatus{}, err
		}
		st := sts[0]
		line := progressLine(st, want, now().Sub(r.CreatedAt), terminal)
		switch {
		case terminal:
			fmt.Fprintf(w, "\r%s\x1b[K", line)
		case line != last:
			fmt.Fprintln(w, line)
		}
		last = line
		if st.Status.Finished() {
			if terminal {
				fmt.Fprintln(w)
			}
			return st, nil
		}
		select {
		case <-ctx.Done():
			if terminal {
				fmt.Fprintln(w)
			}
			return st, ctx.Err()
		case <-time.After(every):
		}
	}
}

const barWidth = 30

// progressLine says how many machines of want are running (succeed),
// pending (still executing, or not launched yet) and failed, how long the
// request has taken, and AWS's reason for the last failure, with a bar on
// a terminal.
func progressLine(st broker.RequestStatus, want int, elapsed time.Duration, bar bool) string {
	var done, failed int
	reason := st.Message
	for _, m := range st.Machines {
		switch m.Result {
		case store.ResultSucceed:
			done++
		case store.ResultFail:
			failed++
			if reason == "" {
				reason = m.Message
			}
		}
	}
	want = max(want, len(st.Machines), 1)
	text := fmt.Sprintf("%s %s after %s: %d running, %d pending, %d failed of %d",
		st.ID, st.Status, elapsed.Round(time.Second), done, want-done-failed, failed, want)
	if reason != "" {
		text += " (" + reason + ")"
	}
	if !bar {
		return text
	}
	filled := min(barWidth*(done+failed)/want, barWidth)
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", barWidth-filled) + "] " + text
}
