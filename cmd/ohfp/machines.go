package main

import (
	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/cli"
	"github.com/ohfp/ohfp/internal/store"
)

func machinesCommand() *cobra.Command {
	var (
		out      outputFlags
		template string
		all      bool
		page     store.RequestQuery
	)
	cmd := &cobra.Command{
		Use:   "machines",
		Short: "List the machines ohfp launched",
		Example: `  ohfp machines list
  ohfp machines list --template Spot-Template-VM --all -o yaml
  ohfp machines list --all --limit 10`,
	}
	out.add(cmd)
	list := &cobra.Command{
		Use:   "list",
		Short: "List machines as last seen (alive ones unless --all), without asking AWS",
		Args:  cobra.NoArgs,
		RunE: out.listing(func(cmd *cobra.Command, _ []string, a *app.App, o cli.Output) error {
			q := store.MachineQuery{TemplateID: template, AliveOnly: !all}
			next := ""
			if q.TemplateID == "" && all {
				// Every machine belongs to a create request: page through
				// the newest of those.
				page.Kind = store.KindCreate
				rs, err := a.Broker.Requests(cmd.Context(), page)
				if err != nil {
					return err
				}
				for _, r := range rs {
					q.RequestIDs = append(q.RequestIDs, r.ID)
				}
				if len(q.RequestIDs) == 0 {
					return o.List(nil)
				}
				next = broker.NextPage(rs, page.Limit)
			}
			ms, err := a.Broker.Machines(cmd.Context(), q)
			if err != nil {
				return err
			}
			if err := o.List(cli.Rows(ms, cli.MachineRow)); err != nil {
				return err
			}
			nextPage(cmd, next)
			return nil
		}),
	}
	list.Flags().StringVar(&template, "template", "", "only machines of this template")
	_ = list.RegisterFlagCompletionFunc("template", templateIDs)
	list.Flags().BoolVar(&all, "all", false, "also machines terminated, failed or returned")
	list.Flags().IntVar(&page.Limit, "limit", 50, "with --all and no --template: the machines of at most this many create requests, newest first (0: all)")
	list.Flags().StringVar(&page.After, "page-token", "", "with --all and no --template: continue after the page that printed this token")
	cmd.AddCommand(list)
	return cmd
}
