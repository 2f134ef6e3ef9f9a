package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/app"
)

func reconcileCommand() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Find instances this provider instance pays for but HostFactory does not know, and adopt or terminate them",
		Long: `Compare the live instances tagged with this provider instance against the state store.
An instance whose request is still followed is adopted into it. One whose request failed,
finished or does not exist is terminated once older than INSTANCE_CREATION_TIMEOUT
(at once when its request failed). Requests left pending by a dead invocation are
finished first. getReturnRequests runs the same pass every few minutes on its own.`,
		Example: `  ohfp reconcile --dry-run
  ohfp reconcile`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := app.FromEnv(cmd.Context(), os.Getenv)
			if err != nil {
				return err
			}
			defer a.Close()
			rec, err := a.Broker.Reconcile(cmd.Context(), dryRun)
			if err != nil {
				return err
			}
			out, err := json.MarshalIndent(rec, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(out))
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only report what would be adopted or terminated")
	return cmd
}
