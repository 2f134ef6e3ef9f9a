package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// Without a work folder the CLI names what to set, instead of making an
// empty store in the conf folder and reporting a grid with no hosts.
func TestCLIRefusesToGuessTheWorkFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "awsinst")
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	if out, stderr, exit := run(t, base, "init", "--name", "awsinst", "--region", "us-east-1", "--dir", dir); exit != 0 {
		t.Fatalf("init exit %d: %s %s", exit, out, stderr)
	}
	id, err := os.ReadFile(filepath.Join(dir, "conf", "ohfp-installation-id"))
	if err != nil || len(strings.TrimSpace(string(id))) == 0 {
		t.Fatalf("init made no installation id: %v", err)
	}
	env := append(base, "HF_PROVIDER_NAME=awsinst", "HF_PROVIDER_CONFDIR="+filepath.Join(dir, "conf"))
	for _, args := range [][]string{{"requests", "list"}, {"reconcile", "--dry-run"}, {"machines", "list"}, {"store", "init"}} {
		_, stderr, exit := run(t, env, args...)
		if exit != 1 || !strings.Contains(stderr, "HF_PROVIDER_WORKDIR") {
			t.Errorf("ohfp %v: exit %d: %s", args, exit, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "conf", "ohfp.db")); err == nil {
		t.Fatal("a store was made in the conf folder")
	}
}

// Every instance a request launches carries the installation's id, whatever
// API launched it.
func TestInstancesCarryTheInstallationID(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("run", 5, nil),
		template("fleet", 5, map[string]any{"providerApi": "EC2Fleet", "fleetType": "instant"})}, nil)
	for _, tmpl := range []string{"run", "fleet"} {
		e.wait(e.request(tmpl, 2))
	}
	id, err := os.ReadFile(filepath.Join(e.root, "conf", "ohfp-installation-id"))
	if err != nil {
		t.Fatal(err)
	}
	insts := e.sb.InstancesWithTag("ohfp:installation-id", strings.TrimSpace(string(id)))
	if len(insts) != 4 || len(e.sb.Instances()) != 4 {
		t.Fatalf("%d of %d instances carry installation %s", len(insts), len(e.sb.Instances()), id)
	}
}

// A store made for another installation is refused: with another
// installation's id file (a store copied from another cluster, or an id
// file lost and made again), every call is a CONFIGURATION_ERROR naming
// the id file, and no host is terminated.
func TestStoreOfAnotherInstallationIsRefused(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("web", 5, nil)}, nil)
	done := e.wait(e.request("web", 2))
	idFile := filepath.Join(e.root, "conf", "ohfp-installation-id")
	if err := os.WriteFile(idFile, []byte(uuid.NewString()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hosts := map[string]any{"machines": hostfactory.Hosts(done.Machines)}
	for op, input := range map[string]any{
		"getAvailableTemplates": map[string]any{},
		"getRequestStatus":      map[string]any{"requests": []map[string]string{{"requestId": done.RequestID}}},
		"getReturnRequests":     hosts,
		"requestReturnMachines": hosts,
	} {
		if out := e.failure(op, input, 1); out.Error.Code != "CONFIGURATION_ERROR" || !strings.Contains(out.Message, "ohfp-installation-id") {
			t.Errorf("%s with another installation's id: %+v", op, out)
		}
	}
	if _, stderr, exit := e.reconcile(); exit != 1 || !strings.Contains(stderr, "ohfp-installation-id") {
		t.Errorf("reconcile with another installation's id: exit %d: %s", exit, stderr)
	}
	if up, all := running(e); up != 2 || all != 2 {
		t.Fatalf("%d of %d hosts running", up, all)
	}
}
