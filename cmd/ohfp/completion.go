package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/store"
)

// completer offers values for an argument or a flag, in the shells that
// `ohfp completion` sets up.
type completer = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective)

// prefixed keeps the values that start with what is typed.
func prefixed(values []string, toComplete string) []string {
	var out []string
	for _, v := range values {
		if strings.HasPrefix(v, toComplete) {
			out = append(out, v)
		}
	}
	return out
}

// oneOf offers fixed values.
func oneOf(values ...string) completer {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return prefixed(values, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// firstArg offers values for the first argument only.
func firstArg(c completer) completer {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return c(cmd, args, toComplete)
	}
}

// templateIDs offers the ids of the provider instance's templates.
func templateIDs(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return prefixed(cfg.TemplateIDs(), toComplete), cobra.ShellCompDirectiveNoFileComp
}

// requestIDs offers the ids of the newest stored requests.
func requestIDs(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var ids []string
	_ = withApp(cmd, func(a *app.App) error {
		rs, err := a.Broker.Requests(cmd.Context(), store.RequestQuery{Limit: 200})
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		return err
	})
	return prefixed(ids, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// requestStates are the states `requests list --state` takes.
func requestStates() []string {
	out := make([]string, len(store.States))
	for i, s := range store.States {
		out[i] = string(s)
	}
	return out
}
