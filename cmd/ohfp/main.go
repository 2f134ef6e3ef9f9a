// Command ohfp is an IBM Spectrum Symphony HostFactory (and LSF resource
// connector) provider plugin for AWS.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := &cobra.Command{
		Use:           "ohfp",
		Short:         "HostFactory provider plugin for AWS",
		Long:          "ohfp places HostFactory's machine requests on AWS (RunInstances, EC2 Fleet, Spot Fleet, Auto Scaling)\nand keeps track of every instance it launches.",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(hfCommand(), sandboxCommand(), reconcileCommand(), serveCommand(),
		initCommand(), doctorCommand(), iamPolicyCommand(), templatesCommand(), requestsCommand(), machinesCommand(), storeCommand())
	err := root.ExecuteContext(ctx)
	stop()
	if code, ok := err.(exitCode); ok {
		os.Exit(int(code))
	}
	if err != nil {
		os.Exit(1)
	}
}

// exitCode ends the process with a status and nothing more printed.
type exitCode int

func (e exitCode) Error() string { return "exit status" }
