package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/cli"
)

// exitOverBudget is the exit status of a reconcile that stopped at its
// termination budget and terminated nothing.
const exitOverBudget = 4

func reconcileCommand() *cobra.Command {
	var (
		opts broker.ReconcileOptions
		out  outputFlags
	)
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Find instances this installation pays for but HostFactory does not know, and adopt or terminate them",
		Long: `Compare the live instances tagged with this provider instance and this installation's id
against the state store. An instance whose request is still followed is adopted into it; so is
one older than the store, or any when the store is empty, with its request rebuilt from its
tags (the store was lost, not the host). One whose request failed, finished or does not exist
is terminated once older than INSTANCE_CREATION_TIMEOUT (at once when its request failed).
Until then it is waiting: TERMINATE IN says how long until a pass would terminate it if it is
still unknown. Requests left pending by a dead invocation are finished first.
getReturnRequests runs the same pass every few minutes on its own. A table on a terminal,
JSON otherwise (-o).

Instances with this provider name that another installation launched are never touched, nor
are those without an installation id (launched before ids existed): --adopt-untagged, run once
after the upgrade, tags those this store launched as this installation's.

One pass terminates at most the larger of OHFP_RECONCILE_BUDGET_PERCENT (10) of the live
instances and OHFP_RECONCILE_BUDGET_MIN (20). Past it nothing is terminated: the plan is
printed (those instances are "kept"), an ERROR is logged and an audit event recorded, and the
exit status is 4. On a terminal, reconcile asks whether to terminate them; --force terminates
them without asking.
Exit status: 0 done, 1 configuration or internal error, 3 cloud error, 4 stopped at the budget.`,
		Example: `  ohfp reconcile --dry-run
  ohfp reconcile -o json
  ohfp reconcile --adopt-untagged --dry-run`,
		Args: cobra.NoArgs,
		RunE: out.listing(func(cmd *cobra.Command, _ []string, a *app.App, o cli.Output) error {
			rec, err := a.Broker.Reconcile(cmd.Context(), opts)
			if errors.Is(err, broker.ErrOverBudget) && !opts.DryRun && onTerminal(os.Stdin) &&
				confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), rec) {
				opts.Confirmed = rec.OverBudget
				rec, err = a.Broker.Reconcile(cmd.Context(), opts)
			}
			if err != nil && !errors.Is(err, broker.ErrOverBudget) {
				return err
			}
			if werr := o.One(cli.ReconcileRecord(rec)); werr != nil {
				return werr
			}
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "ohfp:", err)
				return exitCode(exitOverBudget)
			}
			return nil
		}),
	}
	out.add(cmd)
	f := cmd.Flags()
	f.BoolVar(&opts.DryRun, "dry-run", false, "only report what would be adopted, claimed or terminated")
	f.BoolVar(&opts.Force, "force", false, "terminate past the termination budget, without asking")
	f.BoolVar(&opts.AdoptUntagged, "adopt-untagged", false, "once after upgrading: tag the live instances this store launched before installation ids existed as this installation's")
	return cmd
}

// onTerminal reports whether f is a terminal, where a person can answer.
func onTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// confirm prints the plan a pass stopped at and asks whether to go on; only
// "yes" goes on.
func confirm(in io.Reader, out io.Writer, rec broker.Reconciliation) bool {
	fmt.Fprintf(out, "Reconcile would terminate %d instances that the state store does not know (or, under LSF, that never joined), more than its budget of %d (of %d live):\n",
		len(rec.OverBudget), rec.Budget, rec.Checked)
	for _, id := range rec.OverBudget {
		fmt.Fprintln(out, "  "+id)
	}
	fmt.Fprint(out, "If the state store was lost or replaced, answer no and restore it. Terminate them? Type yes to confirm: ")
	line, _ := bufio.NewReader(in).ReadString('\n')
	return strings.TrimSpace(line) == "yes"
}
