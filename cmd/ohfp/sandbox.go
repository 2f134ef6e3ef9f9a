package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/install"
	"github.com/ohfp/ohfp/internal/rehearsal"
	"github.com/ohfp/ohfp/internal/sandbox"
)

func sandboxCommand() *cobra.Command {
	var (
		addr, from string
		opts       sandbox.Options
	)
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Serve a local AWS endpoint (EC2, Auto Scaling, SSM) to rehearse without an AWS bill",
		Long: `Serve a local AWS endpoint on 127.0.0.1 that speaks AWS's wire protocols.
Point ohfp at it with AWS_ENDPOINT_URL in the provider config (or the
environment, or ohfp init --endpoint-url). It accepts any credentials and
checks no signature. Its control API lives under /_sandbox/.

With --from, the sandbox first creates every AMI, SSM image parameter,
subnet, security group, key pair and launch template that the templates of
that conf folder name (IBM's *prov_config.json and *prov_templates.json, or
a config.yml), in the config's region, so that the folder runs against it
unchanged.`,
		Example: `  ohfp sandbox --addr 127.0.0.1:8787 --pending-delay 2s
  ohfp sandbox --from $HF_TOP/conf/providers/awsinst
  ohfp init --name rehearsal --from-ibm $HF_TOP/conf/providers/awsinst --endpoint-url http://127.0.0.1:8787 --dir /tmp/rehearsal`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cfg *config.Config
			if from != "" {
				var err error
				if cfg, err = loadFolder(from); err != nil {
					return err
				}
				if !cmd.Flags().Changed("region") {
					opts.Region = cfg.AWS.Region
				}
			}
			sb := sandbox.New(opts)
			if cfg != nil {
				made, err := sb.Provide(rehearsal.Resources(cfg, opts.Region))
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created for %s (%d templates, region %s):\n", from, len(cfg.Templates), opts.Region)
				for _, m := range made {
					fmt.Fprintln(cmd.OutOrStdout(), "  "+m)
				}
			}
			return sb.Serve(cmd.Context(), addr, func(url string) {
				fmt.Fprintf(cmd.OutOrStdout(), "sandbox listening on %s (any credentials)\n", url)
			})
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8787", "address to listen on")
	cmd.Flags().StringVar(&from, "from", "", "a provider conf folder whose templates' resources to create")
	cmd.Flags().StringVar(&opts.Region, "region", "us-east-1", "region the sandbox pretends to be (default: the --from config's)")
	cmd.Flags().DurationVar(&opts.PendingDelay, "pending-delay", sandbox.DefaultPendingDelay, "how long instances stay pending")
	cmd.Flags().DurationVar(&opts.ShutdownDelay, "shutdown-delay", time.Second, "how long instances stay shutting-down")
	cmd.Flags().DurationVar(&opts.FleetDelay, "fleet-delay", sandbox.DefaultFleetDelay, "how long fleets and Auto Scaling groups take to launch")
	cmd.Flags().DurationVar(&opts.ConsistencyDelay, "consistency-delay", 0, "how long a new instance stays invisible to Describe calls (EC2's eventual consistency)")
	cmd.Flags().DurationVar(&opts.TerminatedRetention, "terminated-retention", sandbox.DefaultTerminatedRetention, "how long terminated instances stay visible")
	cmd.Flags().DurationVar(&opts.Latency, "latency", 0, "added to every answer, to feel like a remote region")
	cmd.Flags().StringVar(&opts.StateFile, "state-file", "", "keep the sandbox's instances in this file across restarts")
	return cmd
}

// loadFolder reads a conf folder as HostFactory's calls would, the
// instance named after its *prov_config.json.
func loadFolder(dir string) (*config.Config, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	abs = install.ConfFolder(abs)
	env := map[string]string{"HF_PROVIDER_CONFDIR": abs, "HF_PROVIDER_WORKDIR": os.TempDir()}
	if name, err := install.InstanceName(abs); err == nil {
		env["HF_PROVIDER_NAME"] = name
	}
	return config.Load(func(k string) string { return env[k] })
}
