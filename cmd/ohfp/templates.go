package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/cli"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
)

// outputFlags is the --output flag of the listing commands; --legacy is
// the root's (legacyFlag).
type outputFlags struct {
	format string
}

func (o *outputFlags) add(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVarP(&o.format, "output", "o", "", "table, wide (every column), json or yaml (default: table on a terminal, json otherwise)")
	_ = cmd.RegisterFlagCompletionFunc("output", oneOf(string(cli.Table), string(cli.Wide), string(cli.JSON), string(cli.YAML)))
}

// legacyFlag is the root's persistent --legacy, so that it may stand
// anywhere on the line (ohfp --legacy templates list).
const legacyFlag = "legacy"

func addLegacyFlag(root *cobra.Command) {
	root.PersistentFlags().Bool(legacyFlag, false, "HostFactory's camelCase keys (machineId) and epoch-second times, instead of snake_case (machine_id) and RFC 3339 (default: the config's hostfactory.legacy_mode or field_mapping)")
}

// output is the output the flags ask for; without --legacy, cfg's
// hostfactory settings choose the keys.
func (o *outputFlags) output(cmd *cobra.Command, cfg *config.Config) (cli.Output, error) {
	f, err := cli.ParseFormat(o.format, stdoutIsTerminal())
	legacy := cfg.CamelCase()
	if fl := cmd.Flags().Lookup(legacyFlag); fl != nil && fl.Changed {
		legacy, _ = cmd.Flags().GetBool(legacyFlag)
	}
	return cli.Output{W: cmd.OutOrStdout(), Format: f, Legacy: legacy}, err
}

func stdoutIsTerminal() bool { return isatty.IsTerminal(os.Stdout.Fd()) }

// withApp runs fn with the provider instance the environment describes.
func withApp(cmd *cobra.Command, fn func(a *app.App) error) error {
	a, err := app.FromEnv(cmd.Context(), os.Getenv)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}

// listing runs fn with the provider instance and the output the flags ask for.
func (o *outputFlags) listing(fn func(cmd *cobra.Command, args []string, a *app.App, out cli.Output) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if _, err := cli.ParseFormat(o.format, false); err != nil {
			return err // before the provider instance is opened
		}
		return withApp(cmd, func(a *app.App) error {
			out, err := o.output(cmd, a.Config)
			if err != nil {
				return err
			}
			return fn(cmd, args, a, out)
		})
	}
}

func templatesCommand() *cobra.Command {
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "templates",
		Short: "List, show and validate the provider instance's templates",
		Example: `  ohfp templates list
  ohfp templates show OnDemand-Minimal-Template-VM -o yaml
  ohfp templates validate ./awsinstprov_templates.json`,
	}
	out.add(cmd)
	list := &cobra.Command{
		Use:   "list",
		Short: "List templates with the machines still available from each",
		Args:  cobra.NoArgs,
		RunE: out.listing(func(cmd *cobra.Command, _ []string, a *app.App, o cli.Output) error {
			ts, err := a.Broker.Templates(cmd.Context())
			if err != nil {
				return err
			}
			return o.List(cli.Rows(ts, cli.TemplateRow))
		}),
	}
	show := &cobra.Command{
		Use:               "show TEMPLATE_ID",
		Short:             "Show every field of one template (user data by size only)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: firstArg(templateIDs),
		RunE: out.listing(func(cmd *cobra.Command, args []string, a *app.App, o cli.Output) error {
			ts, err := a.Broker.Templates(cmd.Context())
			if err != nil {
				return err
			}
			for _, t := range ts {
				if t.ID == args[0] {
					return o.One(cli.TemplateDetail(t))
				}
			}
			return fault.New(fault.TemplateNotFound, "Template '%s' not found; templates: %s", args[0], strings.Join(a.Config.TemplateIDs(), ", "))
		}),
	}
	var strict bool
	validate := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check the templates file (or FILE, named <name>prov_templates.json) as HostFactory's calls will read it",
		Long: `Check the templates file (or FILE) as HostFactory's calls will read it,
with the configuration. It lists the settings ohfp does not use and the
templates left out for breaking a rule, and fails on a template left out,
or with --strict on a setting not used as well.`,
		Example: `  ohfp templates validate
  ohfp templates validate --strict ./awsinstprov_templates.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(os.Getenv)
			if len(args) == 1 {
				cfg, err = cli.LoadTemplatesFile(os.Getenv, args[0])
			}
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: %d templates valid: %s\n", cfg.TemplatesFile, len(cfg.Templates), strings.Join(cfg.TemplateIDs(), ", "))
			for _, s := range cfg.Ignored {
				fmt.Fprintf(w, "not used: %s\n", s)
			}
			for _, r := range cfg.Rejected {
				fmt.Fprintf(w, "left out: %s\n", r.Err.Message)
			}
			if n := len(cfg.Rejected); n > 0 {
				return fault.New(fault.Configuration, "%d templates left out: each breaks a rule (see above); the others are served", n)
			}
			if n := len(cfg.Ignored); strict && n > 0 {
				return fault.New(fault.Configuration, "--strict: %d settings not used (see above): remove them, or spell them as docs/reference.md does", n)
			}
			return nil
		},
	}
	validate.Flags().BoolVar(&strict, "strict", false, "also fail on a setting or template field that ohfp does not use")
	cmd.AddCommand(list, show, validate)
	return cmd
}
