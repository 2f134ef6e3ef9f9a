package main

import (
	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/cli"
	"github.com/ohfp/ohfp/internal/store"
)

func machinesCommand() *cobra.Command {
	var (
		out      outputFlags
		template string
		all      bool
	)
	cmd := &cobra.Command{
		Use:   "machines",
		Short: "List the machines ohfp launched",
		Example: `  ohfp machines list
  ohfp machines list --template Spot-Template-VM --all -o yaml`,
	}
	out.add(cmd)
	list := &cobra.Command{
		Use:   "list",
		Short: "List machines as last seen (alive ones unless --all), without asking AWS",
		Args:  cobra.NoArgs,
		RunE: out.listing(func(cmd *cobra.Command, _ []string, a *app.App, o cli.Output) error {
			q := store.MachineQuery{TemplateID: template, AliveOnly: !all}
			if q.TemplateID == "" && all {
				// The store selects nothing for an empty query: every
				// machine belongs to a stored request.
				rs, err := a.Broker.Requests(cmd.Context(), store.RequestQuery{Kind: store.KindCreate})
				if err != nil {
					return err
				}
				for _, r := range rs {
					q.RequestIDs = append(q.RequestIDs, r.ID)
				}
				if len(q.RequestIDs) == 0 {
					return o.List(nil)
				}
			}
			ms, err := a.Broker.Machines(cmd.Context(), q)
			if err != nil {
				return err
			}
			return o.List(cli.Rows(ms, cli.MachineRow))
		}),
	}
	list.Flags().StringVar(&template, "template", "", "only machines of this template")
	list.Flags().BoolVar(&all, "all", false, "also machines terminated, failed or returned")
	cmd.AddCommand(list)
	return cmd
}
