package main

import (
	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/cli"
)

func reconcileCommand() *cobra.Command {
	var (
		dryRun bool
		out    outputFlags
	)
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Find instances this provider instance pays for but HostFactory does not know, and adopt or terminate them",
		Long: `Compare the live instances tagged with this provider instance against the state store.
An instance whose request is still followed is adopted into it. One whose request failed,
finished or does not exist is terminated once older than INSTANCE_CREATION_TIMEOUT
(at once when its request failed). Until then it is waiting: TERMINATE IN says how long
until a pass would terminate it if it is still unknown. Requests left pending by a dead
invocation are finished first. getReturnRequests runs the same pass every few minutes
on its own. A table on a terminal, JSON otherwise (-o).`,
		Example: `  ohfp reconcile --dry-run
  ohfp reconcile -o json`,
		Args: cobra.NoArgs,
		RunE: out.listing(func(cmd *cobra.Command, _ []string, a *app.App, o cli.Output) error {
			rec, err := a.Broker.Reconcile(cmd.Context(), dryRun)
			if err != nil {
				return err
			}
			return o.One(cli.ReconcileRecord(rec))
		}),
	}
	out.add(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only report what would be adopted or terminated")
	return cmd
}
