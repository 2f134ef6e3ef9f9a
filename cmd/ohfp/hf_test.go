package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ohfp/ohfp/internal/lsf"
)

// TestHFAnswersEveryFailure: whatever is wrong with the command line or
// its input, `ohfp hf` prints exactly one JSON document with the error and
// exits with the contract's status: 2 for input, 1 for everything under LSF.
func TestHFAnswersEveryFailure(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "in.json")
	if err := os.WriteFile(input, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	lines := map[string][]string{
		"no input file":      {"hf", "getRequestStatus"},
		"no operation":       {"hf", "-f", input},
		"two operations":     {"hf", "getAvailableTemplates", "getRequestStatus", "-f", input},
		"unknown flag":       {"hf", "getAvailableTemplates", "-f", input, "--nope"},
		"unreadable input":   {"hf", "getAvailableTemplates", "-f", filepath.Join(dir, "missing.json")},
		"unknown operation":  {"hf", "getTemplates", "-f", input},
		"flag without value": {"hf", "getAvailableTemplates", "-f"},
	}
	for _, underLSF := range []bool{false, true} {
		for name, args := range lines {
			t.Run(fmt.Sprintf("%s/lsf=%v", name, underLSF), func(t *testing.T) {
				t.Setenv("HF_PROVIDER_CONFDIR", dir)
				t.Setenv("HF_PROVIDER_WORKDIR", dir)
				t.Setenv("HF_PROVIDER_LOGDIR", dir)
				want := 2
				if underLSF {
					t.Setenv(lsf.EnvLogDir, dir)
					want = 1
				}
				root := rootCommand()
				var out bytes.Buffer
				root.SetOut(&out)
				root.SetArgs(args)
				exit := exitStatus(root.ExecuteContext(t.Context()))

				var answer struct {
					Message string
					Error   struct{ Code string }
				}
				dec := json.NewDecoder(&out)
				if err := dec.Decode(&answer); err != nil {
					t.Fatalf("stdout is no JSON document: %v: %q", err, out.String())
				}
				if dec.More() {
					t.Errorf("stdout holds more than one JSON document")
				}
				if exit != want || answer.Error.Code != "INVALID_REQUEST" || answer.Message == "" {
					t.Errorf("exit %d, answer %+v; want exit %d with INVALID_REQUEST", exit, answer, want)
				}
			})
		}
	}
}
