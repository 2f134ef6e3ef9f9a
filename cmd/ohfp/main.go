// Command ohfp is an IBM Spectrum Symphony HostFactory (and LSF resource
// connector) provider plugin for AWS.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/fault"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := rootCommand().ExecuteContext(ctx)
	stop()
	os.Exit(exitStatus(err))
}

// extraCommands are added by files built with a tag (the man page
// generator), so that the shipped binary does not carry them.
var extraCommands []func() *cobra.Command

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "ohfp",
		Short:         "HostFactory provider plugin for AWS",
		Long:          "ohfp places HostFactory's machine requests on AWS (RunInstances, EC2 Fleet, Spot Fleet, Auto Scaling)\nand keeps track of every instance it launches.",
		Version:       currentBuild().Version,
		SilenceUsage:  true,
		SilenceErrors: true, // printed below, with the contract's exit status
	}
	root.SetVersionTemplate("{{with .Root}}{{end}}" + currentBuild().String())
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return authorizeCommand(cmd) }
	addLegacyFlag(root)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fault.Wrap(fault.InvalidRequest, err, "bad command line")
	})
	root.AddCommand(hfCommand(), sandboxCommand(), reconcileCommand(), serveCommand(),
		initCommand(), doctorCommand(), smokeCommand(), iamPolicyCommand(), templatesCommand(), policiesCommand(), tokensCommand(), requestsCommand(), machinesCommand(), storeCommand(), eventsCommand(),
		versionCommand())
	for _, c := range extraCommands {
		root.AddCommand(c())
	}
	return root
}

// exitStatus prints err for people and gives the exit status of its code:
// 1 configuration, 2 bad input, 3 cloud. An AWS call that failed without a
// code of ours is a cloud error.
func exitStatus(err error) int {
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	}
	fmt.Fprintln(os.Stderr, "ohfp:", err)
	c := fault.CodeOf(err)
	var apiErr *smithy.OperationError
	if c == fault.Internal && errors.As(err, &apiErr) {
		c = fault.Cloud
	}
	if c == fault.Internal && strings.HasPrefix(err.Error(), "unknown command") {
		c = fault.InvalidRequest
	}
	return c.ExitCode()
}

// exitCode ends the process with a status and nothing more printed.
type exitCode int

func (e exitCode) Error() string { return "exit status" }
