//go:build manpage

package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// The man page generator is built only with -tags manpage (tools/release
// does), so that the shipped binary does not carry a Markdown renderer.
func init() {
	extraCommands = append(extraCommands, manCommand)
}

func manCommand() *cobra.Command {
	var epoch int64
	cmd := &cobra.Command{
		Use:    "manpages DIR",
		Short:  "Write the man pages of every command into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			root.RemoveCommand(cmd)
			root.DisableAutoGenTag = true
			when := time.Unix(epoch, 0).UTC()
			header := &doc.GenManHeader{Title: "OHFP", Section: "1", Date: &when,
				Source: "ohfp " + currentBuild().Version, Manual: "ohfp manual"}
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			if err := doc.GenManTree(root, header, args[0]); err != nil {
				return fmt.Errorf("writing man pages: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&epoch, "date", 0, "date of the pages, in seconds since the epoch (the commit's, for reproducible builds)")
	return cmd
}
