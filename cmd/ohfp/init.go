package main

import (
	"fmt"
	"io"
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
folder (or of the folder holding it as conf/) are read with ohfp's own loader
and carried over, and every setting ohfp will not honour is listed.

Existing files are kept unless --force, but --region and --endpoint-url are
applied to an existing config: run init again with --endpoint-url to point a
folder at ohfp sandbox without editing it.

Run as root, init writes files root owns: give the folder to the user
HostFactory runs the scripts as with --owner, or run the chown it prints.
Each instance gets a plugin entry of its own (ohfp_<name>), so that several
instances on one host do not clash in hostProviderPlugins.json.

With --lsf, the folder is laid out for the LSF resource connector instead:
conf/ with awsprov_config.json and awsprov_templates.json, scripts/ with the
five scripts, the binary and user_data.sh (which joins each new host to the
cluster). The folder is both the provider's confPath and its scriptPath;
LSF gives the work and log folders ($PRO_DATA_DIR/<name>, $PRO_LSF_LOGDIR).
init prints the entry of LSF's hostProviders.json and the LSF settings to
check. --from-ibm then takes an IBM LSF AWS plugin folder (its conf/, or the
folder holding it) (docs/lsf.md).`,
		Example: `  ohfp init --name awsinst --region us-east-1 --dir /opt/ohfp/awsinst
  ohfp init --name awsinst --from-ibm $HF_TOP/conf/providers/awsinst --dir /opt/ohfp/awsinst
  ohfp init --name sandbox --region us-east-1 --endpoint-url http://127.0.0.1:8787
  sudo ohfp init --name awsinst --region us-east-1 --dir /opt/ohfp/awsinst --owner egoadmin
  ohfp init --lsf --name aws --region us-east-1 --dir $LSF_TOP/conf/resource_connector/ohfp
  ohfp init --lsf --name aws --from-ibm $LSF_TOP/conf/resource_connector/aws --dir $LSF_TOP/conf/resource_connector/ohfp`,
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
			scheduler := "HostFactory"
			if opts.LSF {
				scheduler = "LSF"
			}
			if res.Chown != "" {
				fmt.Fprintf(w, "\nThe files belong to root. Give them to the user %s runs the scripts as\n(or rerun with --owner USER):\n  %s\n", scheduler, res.Chown)
			}
			fmt.Fprintf(w, "\nInstallation id: %s (in %s; keep it with the configuration, and copy it to every\n%s host that shares this installation's state)\n", res.InstallationID, installation.Path(res.ConfDir), scheduler)
			if len(res.NotHonoured) > 0 {
				fmt.Fprintln(w, "\nSettings ohfp will not honour:")
				for _, s := range res.NotHonoured {
					fmt.Fprintln(w, "  "+s)
				}
			}
			if opts.LSF {
				printLSF(w, opts.Name, res)
				return nil
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
	f.BoolVar(&opts.LSF, "lsf", false, "lay the folder out for the LSF resource connector")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

// printLSF tells an LSF administrator what to add and check after init
// --lsf.
func printLSF(w io.Writer, name string, res *install.Result) {
	dir := filepath.Dir(res.ConfDir)
	fmt.Fprintf(w, "\nAdd to $LSF_TOP/conf/resource_connector/hostProviders.json (LSF has no hostProviderPlugins.json):\n%s\n", res.HostProviders)
	fmt.Fprintf(w, "\nEdit %s: the image, subnets, security groups and attributes of your hosts;\n%s joins each new host to the cluster.\n",
		filepath.Join(res.ConfDir, "awsprov_templates.json"), filepath.Join(res.ScriptDir, "user_data.sh"))
	fmt.Fprintln(w, "\nCheck LSF's own settings (docs/lsf.md):")
	for _, s := range install.LSFSettings {
		fmt.Fprintf(w, "  %-11s %-31s %s\n", s.File, s.Name, s.Why)
	}
	fmt.Fprintf(w, "\nebrokerd runs the scripts with the provider's environment; ohfp logs to $PRO_LSF_LOGDIR/%s-ohfp.log.<host>\nand keeps its state in $PRO_DATA_DIR/%s. Check it before LSF needs it, with LSF_TOP and LSF_LOGDIR\nas in lsf.conf and CLUSTER the cluster's name (lsid prints it):\n", name, name)
	// The line runs as printed; a variable left unset stops it and says which.
	fmt.Fprintf(w, "  PROVIDER_NAME=%s PRO_CONF_DIR=%s PRO_DATA_DIR=${LSF_TOP:?set LSF_TOP}/work/${CLUSTER:?set CLUSTER}/resource_connector PRO_LSF_LOGDIR=${LSF_LOGDIR:?set LSF_LOGDIR} %s doctor\n",
		name, dir, filepath.Join(res.ScriptDir, "ohfp"))
}
