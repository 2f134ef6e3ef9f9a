package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/install"
)

// TestLSFDoctorLineRuns: the doctor line init --lsf prints runs as typed
// once LSF_TOP, LSF_LOGDIR and CLUSTER are set, and says which is missing
// otherwise.
func TestLSFDoctorLineRuns(t *testing.T) {
	dir := t.TempDir()
	scripts := filepath.Join(dir, "scripts")
	if err := os.MkdirAll(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	// A stand-in for the binary that shows the environment it was given.
	fake := "#!/bin/sh\necho \"$PROVIDER_NAME $PRO_CONF_DIR $PRO_DATA_DIR $PRO_LSF_LOGDIR $1\"\n"
	if err := os.WriteFile(filepath.Join(scripts, "ohfp"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	printLSF(&out, "aws", &install.Result{ConfDir: filepath.Join(dir, "conf"), ScriptDir: scripts})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])

	run := func(env ...string) (string, error) {
		cmd := exec.Command("bash", "-c", line)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		b, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(b)), err
	}
	got, err := run("LSF_TOP=/lsf", "LSF_LOGDIR=/lsf/log", "CLUSTER=c1")
	if want := "aws " + dir + " /lsf/work/c1/resource_connector /lsf/log doctor"; err != nil || got != want {
		t.Errorf("%s\ngave %q, %v; want %q", line, got, err, want)
	}
	got, err = run("LSF_TOP=/lsf", "LSF_LOGDIR=/lsf/log")
	if err == nil || !strings.Contains(got, "set CLUSTER") {
		t.Errorf("without CLUSTER: %q, %v; want a failure naming CLUSTER", got, err)
	}
}

// TestSandboxFromFolderHoldingConf: sandbox --from takes a provider folder
// that keeps its JSON files in conf/, as init --from-ibm does.
func TestSandboxFromFolderHoldingConf(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "awsinst")
	if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"awsprov_config.json", "awsprov_templates.json", "user_data.sh"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "ibm", f))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "conf", f), b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := loadFolder(dir)
	if err != nil || len(cfg.Templates) != 3 {
		t.Fatalf("loadFolder(%s): %v", dir, err)
	}
}
