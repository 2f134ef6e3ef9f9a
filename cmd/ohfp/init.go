package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/install"
	"github.com/ohfp/ohfp/internal/installation"
)

func initCommand() *cobra.Command {
	var opts install.Options
	cmd := &cobra.Command{
		Use:   "init --name NAME --region REGION",
		Short: "Write a HostFactory provider instance folder for ohfp",
		Long: `Write a provider instance folder: conf/ with <name>prov_config.json and
<name>prov_templates.json (a starter template that runs as is) and the
installation id (ohfp-installation-id, made once and never replaced: every
resource ohfp launches is tagged with it), scripts/ with
the five provider scripts and a copy of this binary, work/ and log/. Then print
the entries to add to HostFactory's hostProviders.json and
hostProviderPlugins.json.

With --from-ibm, the config and templates of an existing IBM AWS plugin conf
folder are read with ohfp's own loader and carried over, and every setting
ohfp will not honour is listed.

Existing files are kept unless --force, but --region and --endpoint-url are
applied to an existing config: run init again with --endpoint-url to point a
folder at ohfp sandbox without editing it.

Run as root, init writes files root owns: give the folder to the user
HostFactory runs the scripts as with --owner, or run the chown it prints.
Each instance gets a plugin entry of its own (ohfp_<name>), so that several
instances on one host do not clash in hostProviderPlugins.json.`,
		Example: `  ohfp init --name awsinst --region us-east-1 --dir /opt/ohfp/awsinst
  ohfp init --name awsinst --from-ibm $HF_TOP/conf/providers/awsinst --dir /opt/ohfp/awsinst
  ohfp init --name sandbox --region us-east-1 --endpoint-url http://127.0.0.1:8787
  sudo ohfp init --name awsinst --region us-east-1 --dir /opt/ohfp/awsinst --owner egoadmin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Dir == "" {
				opts.Dir = opts.Name
			}
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding this binary to copy: %w", err)
			}
			if opts.Binary, err = filepath.EvalSymlinks(bin); err != nil {
				return fmt.Errorf("finding this binary to copy: %w", err)
			}
			res, err := install.Init(opts)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, part := range []struct {
				title string
				files []string
			}{{"Wrote", res.Written}, {"Updated (region, endpoint)", res.Updated}, {"Kept (use --force to replace)", res.Kept}} {
				if len(part.files) > 0 {
					fmt.Fprintln(w, part.title+":")
					for _, f := range part.files {
						fmt.Fprintln(w, "  "+f)
					}
				}
			}
			if res.Chown != "" {
				fmt.Fprintf(w, "\nThe files belong to root. Give them to the user HostFactory runs the scripts as\n(or rerun with --owner USER):\n  %s\n", res.Chown)
			}
			fmt.Fprintf(w, "\nInstallation id: %s (in %s; keep it with the configuration, and copy it to every\nHostFactory host that shares this installation's state)\n", res.InstallationID, installation.Path(res.ConfDir))
			if len(res.NotHonoured) > 0 {
				fmt.Fprintln(w, "\nSettings ohfp will not honour:")
				for _, s := range res.NotHonoured {
					fmt.Fprintln(w, "  "+s)
				}
			}
			fmt.Fprintf(w, "\nAdd to $HF_TOP/conf/providers/hostProviders.json (and name %s in hostRequestors.json):\n%s\n", opts.Name, res.HostProviders)
			fmt.Fprintf(w, "\nAdd to $HF_TOP/conf/providerplugins/hostProviderPlugins.json:\n%s\n", res.HostProviderPlugins)
			fmt.Fprintf(w, "\nThen check it before HostFactory needs it:\n  HF_PROVIDER_NAME=%s HF_PROVIDER_CONFDIR=%s HF_PROVIDER_WORKDIR=%s HF_PROVIDER_LOGDIR=%s %s doctor\n",
				opts.Name, res.ConfDir, res.WorkDir, res.LogDir, filepath.Join(res.ScriptDir, "ohfp"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Name, "name", "", "provider instance name (HF_PROVIDER_NAME), e.g. awsinst")
	f.StringVar(&opts.Region, "region", "", "AWS region (AWS_REGION)")
	f.StringVar(&opts.Dir, "dir", "", "folder to write (default ./NAME)")
	f.StringVar(&opts.FromIBM, "from-ibm", "", "an IBM AWS plugin conf folder to carry over")
	f.StringVar(&opts.EndpointURL, "endpoint-url", "", "AWS endpoint (AWS_ENDPOINT_URL), e.g. the sandbox's")
	f.BoolVar(&opts.Force, "force", false, "overwrite existing files")
	f.StringVar(&opts.Owner, "owner", "", "user[:group] to own the folder: the user HostFactory runs the scripts as")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}
