package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store/transfer"
)

func storeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Set up the state store, or move the state to another store",
		Long: `Set up the state store the provider instance's config selects (SQLite or
DynamoDB), or copy everything it holds to another store.
Exit status: 0 success, 1 configuration or internal error, 3 cloud error.`,
	}
	var check bool
	initCmd := &cobra.Command{
		Use:   "init [--check]",
		Short: "Create the DynamoDB tables (or check them), or create the SQLite file",
		Long: `For DynamoDB, create what is missing of the four tables <prefix>-requests,
<prefix>-machines, <prefix>-facts and <prefix>-events (PAY_PER_REQUEST, their
indexes and TTL),
and say what was done. With --check nothing is created: every missing table,
index or TTL setting is listed and the exit status is 1, for sites whose
HostFactory role may not call CreateTable.
For SQLite, open (or create) the state file and report its path, schema version
and identity. A store file that is damaged or lost (empty, missing while its
write-ahead log or its identity file remains, or corrupt) is refused by every
other command; store init sets it aside (renamed .damaged-<time>, bytes kept)
and makes a new store in its place. Reconcile then adopts and reports the
instances the lost store knew: it never terminates an instance older than its
store. With --check a damaged store is only reported.`,
		Example: `  HF_PROVIDER_NAME=awsinst HF_PROVIDER_CONFDIR=$HF_TOP/conf/providers/awsinst ohfp store init
  ohfp store init --check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return initStore(cmd.Context(), cmd.OutOrStdout(), !check)
		},
	}
	initCmd.Flags().BoolVar(&check, "check", false, "only check; create nothing")
	var to string
	migrate := &cobra.Command{
		Use:   "migrate --to CONFIG_FILE",
		Short: "Copy every request, machine and fact to the store another config file selects",
		Long: `Copy the state of the store this provider instance's config selects into the
store that CONFIG_FILE selects (a config file of either format, read with the
same provider folders), then read the destination back and check that it
holds every request, machine and fact copied. What the destination held
already stays, items with the same ids being replaced. Stop HostFactory's
provider first: what changes during the copy may be missed.`,
		Example: `  # SQLite to DynamoDB: dynamodb.json selects {"OHFP_STORAGE": "dynamodb", ...}
  ohfp store migrate --to /opt/ohfp/awsinst/conf/dynamodb.json
  # and back
  HF_CONFIG_PATH=/opt/ohfp/awsinst/conf/dynamodb.json ohfp store migrate --to awsinstprov_config.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return migrateStore(cmd.Context(), cmd.OutOrStdout(), to)
		},
	}
	migrate.Flags().StringVar(&to, "to", "", "config file selecting the destination store")
	_ = migrate.MarkFlagRequired("to")
	cmd.AddCommand(initCmd, migrate)
	return cmd
}

func initStore(ctx context.Context, w io.Writer, create bool) error {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	log, closer, err := app.OpenLog(cfg)
	if err != nil {
		return fault.Wrap(fault.Configuration, err, "log folder %s", cfg.LogDir)
	}
	defer closer.Close()
	return app.InitStore(ctx, cfg, log, create, w)
}

func migrateStore(ctx context.Context, w io.Writer, target string) error {
	from, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	to, err := loadTarget(from, target)
	if err != nil {
		return err
	}
	if app.StoreName(from) == app.StoreName(to) {
		return fault.New(fault.Configuration, "%s selects the store this provider instance uses already: %s", to.ConfigFile, app.StoreName(from))
	}
	log, closer, err := app.OpenLog(from)
	if err != nil {
		return fault.Wrap(fault.Configuration, err, "log folder %s", from.LogDir)
	}
	defer closer.Close()
	src, err := app.OpenStore(ctx, from, log)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := app.OpenStore(ctx, to, log)
	if err != nil {
		return err
	}
	defer dst.Close()
	log.Info("store migration started", "from", app.StoreName(from), "to", app.StoreName(to))
	counts, err := transfer.Copy(ctx, src, dst)
	if err != nil {
		return err
	}
	log.Info("store migration done", "from", app.StoreName(from), "to", app.StoreName(to),
		"requests", counts.Requests, "machines", counts.Machines, "facts", counts.Facts, "events", counts.Events)
	facts := fmt.Sprintf("%d facts", counts.Facts)
	if counts.Facts < 0 {
		facts = "no facts (the source cannot list them; they are fetched again on demand)"
	}
	fmt.Fprintf(w, "copied %s\n    to %s\nverified: %d requests, %d machines, %d events, %s\n",
		app.StoreName(from), app.StoreName(to), counts.Requests, counts.Machines, counts.Events, facts)
	return nil
}

// loadTarget loads the config file path as the provider instance of from
// would: same name and folders, so relative paths mean the same.
func loadTarget(from *config.Config, path string) (*config.Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fault.Wrap(fault.Configuration, err, "config file %s", path)
	}
	same := map[string]string{
		"HF_CONFIG_PATH":      abs,
		"CONFIG_PATH":         "",
		"HF_PROVIDER_NAME":    from.ProviderName,
		"HF_PROVIDER_CONFDIR": from.ConfDir,
		"HF_PROVIDER_WORKDIR": from.WorkDir,
		"HF_PROVIDER_LOGDIR":  from.LogDir,
	}
	return config.Load(func(k string) string {
		if v, ok := same[k]; ok {
			return v
		}
		return os.Getenv(k)
	})
}
