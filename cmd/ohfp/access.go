package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/config"
)

// commandActions say what each command does, for access control
// (docs/policies.md#who-may-do-what): the Unix user running it needs the
// role of its action. A command missing here is refused to everyone, and
// TestEveryCommandHasARuleForEveryRole fails.
var commandActions = map[string]access.Action{
	"ohfp templates list":     access.Read,
	"ohfp templates show":     access.Read,
	"ohfp templates validate": access.Read,
	"ohfp policies list":      access.Read,
	"ohfp policies show":      access.Read,
	"ohfp policies check":     access.Read,
	"ohfp requests list":      access.Read,
	"ohfp requests show":      access.Read,
	"ohfp requests watch":     access.Read,
	"ohfp machines list":      access.Read,
	"ohfp events list":        access.Read,
	"ohfp iam-policy":         access.Read,
	"ohfp doctor":             access.Manage,
	"ohfp reconcile":          access.Manage,
	"ohfp smoke":              access.Manage,
	"ohfp serve":              access.Manage,
	"ohfp store init":         access.Manage,
	"ohfp store migrate":      access.Manage,
	"ohfp tokens add":         access.Manage,
	"ohfp tokens list":        access.Manage,
	"ohfp tokens revoke":      access.Manage,
	// Shell completion (cobra's hidden commands) lists templates and
	// request ids: a read.
	"ohfp " + cobra.ShellCompRequestCmd:       access.Read,
	"ohfp " + cobra.ShellCompNoDescRequestCmd: access.Read,
}

// unruled are the commands access control leaves alone: those that act on
// no provider instance, and `hf`, whose every operation is checked with its
// template (app.OperationActions).
var unruled = map[string]bool{
	"ohfp":            true,
	"ohfp hf":         true,
	"ohfp init":       true, // writes a new instance folder
	"ohfp sandbox":    true, // a local endpoint, no instance
	"ohfp version":    true,
	"ohfp help":       true,
	"ohfp completion": true,
	"ohfp manpages":   true,
}

// authorizeCommand refuses cmd to the Unix user running it when the access
// rules of the provider instance do not give them its action's role; the
// refusal is recorded in the instance's audit trail. A configuration that
// does not load is left for the command itself to report.
func authorizeCommand(cmd *cobra.Command) error {
	path := cmd.CommandPath()
	if unruled[path] || cmd.HasParent() && cmd.Parent().CommandPath() == "ohfp completion" {
		return nil
	}
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return nil
	}
	p, err := access.Current(cfg.AccessFile, cfg.ConfigFile)
	if err != nil {
		return err
	}
	if err := p.Allow(commandActions[path]); err != nil {
		deny(cmd.Context(), cfg, path, err)
		return err
	}
	return nil
}

// deny records a refused command in the audit trail, if the store opens.
func deny(ctx context.Context, cfg *config.Config, path string, err error) {
	st, oerr := app.OpenStore(ctx, cfg, slog.New(slog.DiscardHandler))
	if oerr != nil {
		return
	}
	defer st.Close()
	app.RecordDenial(ctx, st, app.Actor(path), err)
}
