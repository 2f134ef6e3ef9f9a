package main

import (
	"encoding/json"
	"os"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/doctor"
)

func doctorCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the provider instance: config, log folder, store, AWS credentials, permissions and resources",
		Long: `Check, one line each with a hint, that the config and templates load, the log
folder is writable, the state store opens with the current schema, the AWS
credentials resolve (STS GetCallerIdentity), every AMI, SSM parameter, subnet,
security group, key pair and launch template the templates name exists, and
the calls each template's API makes are allowed (EC2 DryRun of RunInstances,
and of CreateLaunchTemplate with CreateFleet or RequestSpotFleet for fleets).
The exit status is 1 when any check fails.`,
		Example: `  HF_PROVIDER_NAME=awsinst HF_PROVIDER_CONFDIR=$HF_TOP/conf/providers/awsinst ohfp doctor
  ohfp doctor --json | jq '.checks[] | select(.status == "fail")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := doctor.Run(cmd.Context(), os.Getenv)
			var err error
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				err = enc.Encode(r)
			} else {
				err = r.WriteText(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			if !r.OK {
				// The report said it all.
				cmd.SilenceErrors = true
				return exitCode(1)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
