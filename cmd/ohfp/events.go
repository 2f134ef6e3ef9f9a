package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/cli"
	"github.com/ohfp/ohfp/internal/store"
)

func eventsCommand() *cobra.Command {
	var (
		out   outputFlags
		q     store.EventQuery
		since time.Duration
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "List the audit trail: every state change, who asked for it and when",
		Example: `  ohfp events list --since 1h
  ohfp events list --request req-5f0c... -o json`,
	}
	out.add(cmd)
	list := &cobra.Command{
		Use:   "list",
		Short: "List events, newest first",
		Args:  cobra.NoArgs,
		RunE: out.listing(func(cmd *cobra.Command, _ []string, a *app.App, o cli.Output) error {
			if since > 0 {
				q.Since = time.Now().Add(-since)
			}
			es, err := a.Broker.Events(cmd.Context(), q)
			if err != nil {
				return err
			}
			return o.List(cli.Rows(es, eventRow))
		}),
	}
	list.Flags().StringVar(&q.RequestID, "request", "", "only events of this request")
	_ = list.RegisterFlagCompletionFunc("request", requestIDs)
	list.Flags().DurationVar(&since, "since", 0, "only events this recent, such as 30m or 24h (0: all kept)")
	list.Flags().IntVar(&q.Limit, "limit", 50, "at most this many (0: all)")
	cmd.AddCommand(list)
	return cmd
}

func eventRow(e store.Event) cli.Record {
	return cli.Record{
		{Key: "time", Value: e.Time},
		{Key: "request_id", Value: e.RequestID},
		{Key: "machine_id", Value: e.InstanceID},
		{Key: "action", Value: e.Action},
		{Key: "actor", Value: e.Actor},
		{Key: "detail", Value: e.Detail},
	}
}
