package main

import (
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/hf"
)

func hfCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "hf OPERATION [-f FILE]",
		Short: "Run one HostFactory operation (what the provider scripts call)",
		Long: `Run one HostFactory operation: getAvailableTemplates, requestMachines,
getRequestStatus, requestReturnMachines or getReturnRequests.

The input JSON is read from FILE (-f - reads standard input).
getAvailableTemplates needs no input: without -f it answers as for {}, as
the OHFP requirements guide's health check calls it. Standard output
carries exactly one JSON document; logs go to HF_PROVIDER_LOGDIR.
Exit status: 0 success, 1 configuration or internal error, 2 invalid input,
3 cloud or resource error.`,
		Example: `  HF_PROVIDER_NAME=awsinst HF_PROVIDER_CONFDIR=/opt/conf ohfp hf getAvailableTemplates -f /tmp/in.json
  echo '{"requests":[{"requestId":"req-..."}]}' | ohfp hf getRequestStatus -f -`,
		// Its command line is checked below, so that a wrong one is also
		// answered with one JSON document and the contract's exit status.
		Args:      cobra.ArbitraryArgs,
		ValidArgs: hf.Operations,
		RunE: func(cmd *cobra.Command, args []string) error {
			return answerHF(cmd, args, func() ([]byte, error) {
				if len(args) != 1 {
					return nil, fault.New(fault.InvalidRequest, "usage: ohfp hf OPERATION [-f FILE] (got %d arguments)", len(args))
				}
				return readInput(args[0], file, cmd.Flags().Changed("file"))
			})
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "input JSON file written by HostFactory (- for standard input); getAvailableTemplates needs none")
	cmd.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return answerHF(cmd, cmd.Flags().Args(), func() ([]byte, error) {
			return nil, fault.Wrap(fault.InvalidRequest, err, "bad command line")
		})
	})
	return cmd
}

// answerHF runs the operation args name on the input read gives, prints
// its one JSON document and ends with its exit status.
func answerHF(cmd *cobra.Command, args []string, read func() ([]byte, error)) error {
	op := ""
	if len(args) > 0 {
		op = args[0]
	}
	out, code := app.RunHF(cmd.Context(), op, read, os.Getenv)
	if _, err := cmd.OutOrStdout().Write(out); err != nil {
		return fmt.Errorf("writing the answer: %w", err)
	}
	if code != 0 {
		return exitCode(code)
	}
	return nil
}

// readInput reads the operation's input file. Only getAvailableTemplates,
// whose input carries nothing, may go without one; any other operation
// without -f is refused in the contract's envelope, naming the flag.
func readInput(op, file string, given bool) ([]byte, error) {
	switch {
	case !given && (op == hf.OpGetAvailableTemplates || !slices.Contains(hf.Operations, op)):
		return nil, nil // nothing to read; hf.Decode refuses an unknown op
	case !given:
		return nil, fault.New(fault.InvalidRequest, "%s needs its input file: -f FILE (- for standard input)", op).With("field", "-f")
	}
	var r io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fault.Wrap(fault.InvalidRequest, err, "cannot read the input file")
		}
		defer f.Close()
		r = f
	}
	return hf.ReadInput(r)
}
