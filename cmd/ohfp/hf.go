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
		Args:      cobra.ExactArgs(1),
		ValidArgs: hf.Operations,
		RunE: func(cmd *cobra.Command, args []string) error {
			var out []byte
			var code int
			if input, err := readInput(args[0], file, cmd.Flags().Changed("file")); err != nil {
				out, code = hf.Encode(args[0], hf.Result{}, err), hf.Exit(err)
			} else {
				out, code = app.RunHF(cmd.Context(), args[0], input, os.Getenv)
			}
			if _, werr := os.Stdout.Write(out); werr != nil {
				return fmt.Errorf("writing the answer: %w", werr)
			}
			if code != 0 {
				return exitCode(code)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "input JSON file written by HostFactory (- for standard input); getAvailableTemplates needs none")
	return cmd
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
