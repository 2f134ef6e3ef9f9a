package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/sandbox"
)

func sandboxCommand() *cobra.Command {
	var (
		addr string
		opts sandbox.Options
	)
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Serve a local AWS endpoint (EC2, Auto Scaling, SSM) to rehearse without an AWS bill",
		Long: `Serve a local AWS endpoint on 127.0.0.1 that speaks AWS's wire protocols.
Point ohfp at it with AWS_ENDPOINT_URL in the provider config (or the
environment) and any credentials. Its control API lives under /_sandbox/.`,
		Example: `  ohfp sandbox --addr 127.0.0.1:8787 --pending-delay 2s`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sb := sandbox.New(opts)
			return sb.Serve(cmd.Context(), addr, func(url string) {
				fmt.Fprintf(cmd.OutOrStdout(), "sandbox listening on %s\n", url)
			})
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8787", "address to listen on")
	cmd.Flags().StringVar(&opts.Region, "region", "us-east-1", "region the sandbox pretends to be")
	cmd.Flags().DurationVar(&opts.PendingDelay, "pending-delay", sandbox.DefaultPendingDelay, "how long instances stay pending")
	cmd.Flags().DurationVar(&opts.ShutdownDelay, "shutdown-delay", time.Second, "how long instances stay shutting-down")
	cmd.Flags().DurationVar(&opts.FleetDelay, "fleet-delay", sandbox.DefaultFleetDelay, "how long fleets and Auto Scaling groups take to launch")
	cmd.Flags().DurationVar(&opts.ConsistencyDelay, "consistency-delay", 0, "how long a new instance stays invisible to Describe calls (EC2's eventual consistency)")
	cmd.Flags().DurationVar(&opts.TerminatedRetention, "terminated-retention", sandbox.DefaultTerminatedRetention, "how long terminated instances stay visible")
	cmd.Flags().DurationVar(&opts.Latency, "latency", 0, "added to every answer, to feel like a remote region")
	cmd.Flags().StringVar(&opts.StateFile, "state-file", "", "keep the sandbox's instances in this file across restarts")
	return cmd
}
