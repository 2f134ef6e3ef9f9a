package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/cli"
	"github.com/ohfp/ohfp/internal/config"
)

func tokensCommand() *cobra.Command {
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Give, list and revoke the tokens of `ohfp serve`, one principal and role each",
		Long: `Each token names one principal with a role: viewer (reads), operator
(requests and returns machines of the templates granted, by id or pattern)
or admin. Tokens are kept as SHA-256 hashes in tokens.json in the work
folder: a token is shown once, when it is made, and never logged.`,
		Example: `  ohfp tokens add alice --role operator --template 'gpu-*' --template OnDemand-Minimal-Template-VM
  ohfp tokens add grafana --role viewer
  ohfp tokens list
  ohfp tokens revoke alice`,
	}
	out.add(cmd)
	load := func() (*config.Config, string, error) {
		cfg, err := config.Load(os.Getenv)
		if err != nil {
			return nil, "", err
		}
		return cfg, filepath.Join(cfg.WorkDir, access.TokensFileName), nil
	}
	file := func() (string, error) {
		_, path, err := load()
		return path, err
	}
	var role string
	var templates []string
	add := &cobra.Command{
		Use:   "add PRINCIPAL --role viewer|operator|admin [--template ID_OR_PATTERN]...",
		Short: "Make a token for a principal and print it, once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := access.ParseRole(role)
			if err != nil {
				return err
			}
			path, err := file()
			if err != nil {
				return err
			}
			tok, err := access.AddToken(path, args[0], r, templates, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			fmt.Fprintf(cmd.ErrOrStderr(), "token for %s (%s) made; it is shown this once: give it with \"Authorization: Bearer <token>\"\n", args[0], r)
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "", "viewer, operator or admin (required)")
	add.Flags().StringArrayVar(&templates, "template", nil, "a template id or pattern an operator may request and return machines of (repeat)")
	_ = add.MarkFlagRequired("role")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the principals that have a token, with their role and grants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, path, err := load()
			if err != nil {
				return err
			}
			o, err := out.output(cmd, cfg)
			if err != nil {
				return err
			}
			ts, err := access.ReadTokens(path)
			if err != nil {
				return err
			}
			return o.List(cli.Rows(ts, func(t access.Token) cli.Record {
				return cli.Record{
					{Key: "principal", Value: t.Principal}, {Key: "role", Value: string(t.Role)},
					{Key: "templates", Value: strings.Join(t.Templates, ",")}, {Key: "created", Value: t.Created},
				}
			}))
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke PRINCIPAL",
		Short: "Remove a principal's token; `ohfp serve` refuses it from the next request on",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			path, err := file()
			if err != nil {
				return err
			}
			return access.RevokeToken(path, args[0])
		},
	}
	cmd.AddCommand(add, list, revoke)
	return cmd
}
