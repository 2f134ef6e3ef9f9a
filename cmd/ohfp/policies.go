package main

import (
	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/cli"
)

func policiesCommand() *cobra.Command {
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "policies",
		Short: "List and show the admission policies, and check what a request would be granted",
		Long: `Policies limit how many machines, how many vCPUs and how fast (StepValue)
requests may have, in the format of LSF's policy_config.json (docs/policies.md).`,
		Example: `  ohfp policies list
  ohfp policies show GlobalPolicy -o yaml
  ohfp policies check --account proj1 --template OnDemand-Minimal-Template-VM --count 10`,
	}
	out.add(cmd)
	list := &cobra.Command{
		Use:   "list",
		Short: "List the policies and the templates each matches",
		Args:  cobra.NoArgs,
		RunE: out.listing(func(_ *cobra.Command, _ []string, a *app.App, o cli.Output) error {
			return o.List(cli.Rows(a.Broker.Policies(), cli.PolicyRow))
		}),
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one policy with what its counters hold now",
		Args:  cobra.ExactArgs(1),
		RunE: out.listing(func(cmd *cobra.Command, args []string, a *app.App, o cli.Output) error {
			v, err := a.Broker.Policy(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return o.One(cli.PolicyDetail(v))
		}),
	}
	var in broker.MachineRequest
	check := &cobra.Command{
		Use:   "check --template T --count N [--account A] [--user U]",
		Short: "Say what a request would be granted now, and which limit decides; launches nothing",
		Args:  cobra.NoArgs,
		RunE: out.listing(func(cmd *cobra.Command, _ []string, a *app.App, o cli.Output) error {
			adm, err := a.Broker.Check(cmd.Context(), in)
			if err != nil {
				return err
			}
			return o.One(cli.AdmissionDetail(adm))
		}),
	}
	check.Flags().StringVar(&in.TemplateID, "template", "", "template id (required)")
	check.Flags().IntVar(&in.Count, "count", 1, "machines asked for")
	check.Flags().StringVar(&in.RCAccount, "account", "", "rc_account of the request (default: default)")
	check.Flags().StringVar(&in.User, "user", "", "principal asking (default: you)")
	_ = check.MarkFlagRequired("template")
	cmd.AddCommand(list, show, check)
	return cmd
}
