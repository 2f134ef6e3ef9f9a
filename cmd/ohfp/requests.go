package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/cli"
	"github.com/ohfp/ohfp/internal/store"
)

// watchInterval is how often `requests watch` asks for the status.
const watchInterval = 2 * time.Second

// nextPage tells, on standard error so that the listing stays clean, how
// to ask for the next page; token is "" after the last one.
func nextPage(cmd *cobra.Command, token string) {
	if token != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "more: add --page-token %s\n", token)
	}
}

func requestsCommand() *cobra.Command {
	var (
		out   outputFlags
		q     store.RequestQuery
		state string
		kind  string
	)
	cmd := &cobra.Command{
		Use:   "requests",
		Short: "List, show and watch HostFactory's requests",
		Example: `  ohfp requests list --state running
  ohfp requests list --template Spot-Template-VM --limit 20 -o json --legacy
  ohfp requests list --limit 20 --page-token 00001780000000000000000#req-5f0c...
  ohfp requests show req-5f0c...
  ohfp requests watch req-5f0c...`,
	}
	out.add(cmd)
	list := &cobra.Command{
		Use:   "list",
		Short: "List stored requests, newest first",
		Args:  cobra.NoArgs,
		RunE: out.listing(func(cmd *cobra.Command, _ []string, a *app.App, o cli.Output) error {
			if state != "" {
				q.States = []store.State{store.State(state)}
			}
			q.Kind = store.Kind(kind)
			rs, err := a.Broker.Requests(cmd.Context(), q)
			if err != nil {
				return err
			}
			if err := o.List(cli.Rows(rs, cli.RequestRow)); err != nil {
				return err
			}
			nextPage(cmd, broker.NextPage(rs, q.Limit))
			return nil
		}),
	}
	list.Flags().StringVar(&state, "state", "", "only requests in this state: pending, running, complete, complete_with_error, failed")
	list.Flags().StringVar(&kind, "kind", "", "only create or return requests")
	list.Flags().StringVar(&q.TemplateID, "template", "", "only requests of this template")
	list.Flags().IntVar(&q.Limit, "limit", 50, "at most this many (0: all)")
	list.Flags().StringVar(&q.After, "page-token", "", "continue after the page that printed this token")
	_ = list.RegisterFlagCompletionFunc("state", oneOf(requestStates()...))
	_ = list.RegisterFlagCompletionFunc("kind", oneOf(string(store.KindCreate), string(store.KindReturn)))
	_ = list.RegisterFlagCompletionFunc("template", templateIDs)
	show := &cobra.Command{
		Use:               "show REQUEST_ID",
		Short:             "Show a request and its machines as the cloud has them now, without claiming it for HostFactory",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: firstArg(requestIDs),
		RunE: out.listing(func(cmd *cobra.Command, args []string, a *app.App, o cli.Output) error {
			r, err := a.Broker.Request(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			st, err := a.Broker.Refresh(cmd.Context(), []string{r.ID})
			if err != nil {
				return err
			}
			return o.One(cli.RequestDetail(r, st[0]))
		}),
	}
	watch := &cobra.Command{
		Use:               "watch REQUEST_ID",
		Short:             "Follow a request until it is complete: running, pending and failed machines, elapsed time, AWS's reason",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: firstArg(requestIDs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, func(a *app.App) error {
				r, err := a.Broker.Request(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				st, err := cli.Watch(cmd.Context(), a.Broker, r, watchInterval, cmd.OutOrStdout(), stdoutIsTerminal(), time.Now)
				if err != nil {
					return err
				}
				if st.Status != store.StateComplete {
					// The last line said it all.
					cmd.SilenceErrors = true
					return exitCode(3)
				}
				return nil
			})
		},
	}
	cmd.AddCommand(list, show, watch)
	return cmd
}
