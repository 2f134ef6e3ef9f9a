package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// checkout lays out a copy of the repository's scripts folder under a new
// folder, with the binary at bin/ohfp when withBinary, as `make build`
// leaves a checkout. It returns the scripts folder.
func checkout(t *testing.T, withBinary bool) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "scripts")
	if err := os.CopyFS(dir, os.DirFS(scriptDir)); err != nil {
		t.Fatal(err)
	}
	if withBinary {
		if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(binary, filepath.Join(root, "bin", "ohfp")); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// script runs one provider script as HostFactory does, with env (OHFP_BIN
// removed) and args.
func script(t *testing.T, env []string, dir, op string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(dir, op+".sh"), args...)
	cmd.Env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "OHFP_BIN=") })
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("%s: %v", op, err)
		}
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// TestScriptsRunFromACheckout runs the scripts of a checkout after `make
// build` (the binary in bin/, not beside the scripts), as the OHFP
// requirements guide does (./scripts/requestMachines.sh -f ...), and the
// health check of the OHFP integration guide: getAvailableTemplates.sh
// with no argument at all, which answers as for {}.
func TestScriptsRunFromACheckout(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("basic-template", 10, nil)}, nil)
	dir := checkout(t, true)
	out, stderr, exit := script(t, e.hf.Env, dir, "getAvailableTemplates")
	var got struct {
		Templates []struct {
			TemplateID string `json:"templateId"`
		} `json:"templates"`
	}
	if err := json.Unmarshal([]byte(out), &got); exit != 0 || err != nil || len(got.Templates) != 1 || got.Templates[0].TemplateID != "basic-template" {
		t.Fatalf("getAvailableTemplates.sh with no argument: exit %d, %v\n%s\n%s", exit, err, out, stderr)
	}
	in := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(in, []byte(`{"template":{"templateId":"basic-template","machineCount":1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, exit = script(t, e.hf.Env, dir, "requestMachines", "-f", in)
	if exit != 0 || !strings.Contains(out, `"requestId":"req-`) {
		t.Fatalf("requestMachines.sh -f: exit %d\n%s\n%s", exit, out, stderr)
	}
	// Every other operation needs its input file, and says so in the
	// contract's envelope.
	out, _, exit = script(t, e.hf.Env, dir, "getRequestStatus")
	var refused hostfactory.Error
	if err := hostfactory.Decode([]byte(out), &refused); err != nil || exit != 2 || refused.Error.Code != "INVALID_REQUEST" || !strings.Contains(refused.Message, "-f FILE") {
		t.Errorf("getRequestStatus.sh with no argument: exit %d %v\n%s", exit, err, out)
	}
}

// TestScriptsSayWhereTheyLooked runs a script with no binary beside it or
// in the checkout's bin/: it says where it looked, on one line of standard
// error and in the error envelope, and exits 1 (never 127).
func TestScriptsSayWhereTheyLooked(t *testing.T) {
	dir := checkout(t, false)
	out, stderr, exit := script(t, []string{"PATH=" + os.Getenv("PATH")}, dir, "requestMachines", "-f", "/dev/null")
	var env hostfactory.Error
	if err := hostfactory.Decode([]byte(out), &env); err != nil || exit != 1 || env.Error.Code != "CONFIGURATION_ERROR" {
		t.Fatalf("exit %d, %v:\n%s", exit, err, out)
	}
	want := []string{filepath.Join(dir, "ohfp"), filepath.Join(filepath.Dir(dir), "bin", "ohfp")}
	for _, w := range want {
		if !strings.Contains(env.Message, w) || !strings.Contains(stderr, w) {
			t.Errorf("does not name %s:\n%s\n%s", w, out, stderr)
		}
	}
	if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 || !strings.HasPrefix(stderr, "requestMachines: ") {
		t.Errorf("standard error: %d lines:\n%s", lines, stderr)
	}
}
