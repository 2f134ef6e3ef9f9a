package main

import (
	"context"
	"fmt"
	"time"
)

// reconcileRows measures a reconcile pass (ohfp reconcile, the pass
// getReturnRequests runs every few minutes) over the live instances of the
// provider: at 10,000 and at population, in requests of 10,000 machines
// known to the store, on a sandbox of its own. Time is reported per 10,000
// instances; it is linear when that figure holds as the population grows.
func reconcileRows(ctx context.Context, bin, root string, population, runs int, floor row) error {
	b, stop, err := newBench(bin, root, runs, []map[string]any{benchTemplate("Template-Reconcile", "t3.micro")}, nil)
	if err != nil {
		return err
	}
	defer stop()
	t := &table{title: fmt.Sprintf("Reconcile over the provider's live instances (ohfp reconcile), SQLite store; medians of %d runs", runs), floor: floor}
	var perTenK []time.Duration
	for have := 0; have < population; {
		n := min(bigRequest, population-have)
		if _, err := b.host.RequestMachines(ctx, "Template-Reconcile", n); err != nil {
			return err
		}
		have += n
		if have != bigRequest && have != population {
			continue
		}
		r := row{step: step{name: fmt.Sprintf("reconcile, %d live instances", have)}}
		for range runs {
			b.sb.ResetCalls()
			b.aws.take()
			wall, cpu, rss, err := command([]string{bin, "reconcile", "-o", "json"}, b.host.Env)
			if err != nil {
				return err
			}
			r.wall, r.cpu, r.aws = append(r.wall, wall), append(r.cpu, cpu), append(r.aws, b.aws.take())
			r.rss = max(r.rss, rss)
			for _, c := range b.sb.Calls() {
				r.calls += float64(c)
			}
		}
		r.calls /= float64(runs)
		per := median(r.wall) * bigRequest / time.Duration(have)
		perTenK = append(perTenK, per)
		r.detail = fmt.Sprintf("%s per 10,000 instances (%s of it with an AWS call in flight)", ms(per), ms(median(r.aws)*bigRequest/time.Duration(have)))
		r.targets = []target{memory(64)}
		if len(perTenK) > 1 {
			first := perTenK[0]
			r.targets = append(r.targets, target{"time per 10,000 within 1.25 x of the 10,000 row's", func(*row, *table) (bool, string) {
				return float64(per) <= 1.25*float64(first), ""
			}})
		}
		t.add(r)
	}
	t.print()
	return nil
}
