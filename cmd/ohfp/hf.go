package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/hf"
)

func hfCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "hf OPERATION -f FILE",
		Short: "Run one HostFactory operation (what the provider scripts call)",
		Long: `Run one HostFactory operation: getAvailableTemplates, requestMachines,
getRequestStatus, requestReturnMachines or getReturnRequests.

The input JSON is read from FILE (-f - reads standard input). Standard output
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
			if input, err := readInput(file); err != nil {
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
	cmd.Flags().StringVarP(&file, "file", "f", "", "input JSON file written by HostFactory (- for standard input)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func readInput(file string) ([]byte, error) {
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
