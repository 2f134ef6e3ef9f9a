package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/iampolicy"
)

func iamPolicyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "iam-policy",
		Short: "Print the least-privilege IAM policy the configured templates need",
		Long: `Print the IAM policy document for exactly the AWS calls ohfp makes for the
configured templates and store, on the resources they name: RunInstances or
the fleet and Auto Scaling calls, iam:PassRole only for the named instance
profiles' roles and fleet roles, SSM only for the image parameters named,
DynamoDB (every call the store makes) only on the configured tables.
Instance profile roles are assumed to bear the profile's name.`,
		Example: `  ohfp iam-policy > ohfp-policy.json
  aws iam put-role-policy --role-name hf-master --policy-name ohfp --policy-document file://ohfp-policy.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(os.Getenv)
			if err != nil {
				return err
			}
			b, err := iampolicy.For(cfg).JSON()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
}
