package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/app"
	awscloud "github.com/ohfp/ohfp/internal/cloud/aws"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/smoke"
	"github.com/ohfp/ohfp/internal/store"
)

// spotPrice is what the spot part of a template costs now, "" when it has
// none or EC2 would not say.
func spotPrice(ctx context.Context, prov *awscloud.Provider, t config.Template) string {
	if t.PriceType != config.PriceSpot && t.PriceType != config.PriceHeterogeneous {
		return ""
	}
	types := smoke.Types(t)
	if len(types) == 0 {
		return ""
	}
	prices, err := prov.SpotPrices(ctx, types)
	if err != nil || len(prices) == 0 {
		return ""
	}
	var parts []string
	for _, p := range prices {
		parts = append(parts, fmt.Sprintf("%s $%.4f (%s)", p.InstanceType, p.USDPerHour, p.Zone))
	}
	s := "spot now, lowest zone: " + strings.Join(parts, ", ")
	if t.PriceType == config.PriceHeterogeneous {
		s += "; on-demand price not known to ohfp"
	}
	return s
}

func smokeCommand() *cobra.Command {
	var (
		templateID    string
		yes           bool
		poll, timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "smoke --template ID [--yes]",
		Short: "Launch one machine of a template for real, check it, return it, and check nothing is left",
		Long: `Run one real cycle of a template on the configured cloud, as HostFactory would:
request 1 machine, poll it to complete, check its host name, addresses and
ohfp's tags, return it, poll the return, and check that nothing of the run is
left (instance, fleet, Auto Scaling group, launch template).

It prints what it will launch and asks before launching, unless --yes. Once it
has launched, every way out (a failed check, Ctrl-C) returns the run's machines
and waits until nothing is left. The exit status is 0 when the cycle passed,
3 when a check failed or the cloud refused, 1 when nothing was launched
because the launch was not confirmed.`,
		Example: `  ohfp smoke --template OnDemand-Starter-Template
  ohfp smoke --template spot-fleet --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := app.FromEnv(ctx, os.Getenv)
			if err != nil {
				return err
			}
			defer a.Close()
			prov, err := awscloud.New(ctx, a.Config.AWS, a.Log, store.NewFacts(a.Store, a.Config.Caching))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			run := &smoke.Run{Broker: a.Broker, Cloud: prov, Config: a.Config, Out: out, Poll: poll, Timeout: timeout}
			t, err := run.Template(templateID)
			if err != nil {
				return err
			}
			fmt.Fprintln(out, run.Plan(t, spotPrice(ctx, prov, t)))
			if !yes {
				fmt.Fprint(out, "Launch it? [y/N] ")
				answer, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					fmt.Fprintln(out, "\nnot confirmed: nothing was launched (add --yes to launch without asking)")
					cmd.SilenceErrors = true
					return exitCode(1)
				}
			}
			return run.Launch(ctx, t.ID)
		},
	}
	cmd.Flags().StringVar(&templateID, "template", "", "the template to launch (required)")
	cmd.Flags().BoolVar(&yes, "yes", false, "launch without asking")
	cmd.Flags().DurationVar(&poll, "poll", 5*time.Second, "time between polls")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long each wait may take: the launch, the return, the cleanup")
	cmd.MarkFlagRequired("template")
	return cmd
}
