package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
)

// TestIBMExampleRehearsal is the administrator's rehearsal: `ohfp sandbox
// --from examples/ibm` creates what IBM's example templates name, `ohfp
// init --from-ibm --endpoint-url` points a copy of the folder at it, and
// every template then runs a whole cycle through the scripts, with no file
// edited by hand.
func TestIBMExampleRehearsal(t *testing.T) {
	examples := filepath.Join(filepath.Dir(scriptDir), "examples", "ibm")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sb := exec.CommandContext(ctx, binary, "sandbox", "--from", examples, "--addr", "127.0.0.1:0",
		"--pending-delay", "200ms", "--fleet-delay", "200ms")
	out, err := sb.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = sb.Wait() })
	var url string
	var created []string
	lines := bufio.NewScanner(out)
	for url == "" && lines.Scan() {
		line := lines.Text()
		if rest, ok := strings.CutPrefix(line, "sandbox listening on "); ok {
			url, _, _ = strings.Cut(rest, " ")
		} else if strings.HasPrefix(line, "  ") {
			created = append(created, strings.TrimSpace(line))
		}
	}
	if url == "" {
		t.Fatal("the sandbox never said where it listens")
	}
	go func() { // keep the pipe drained
		for lines.Scan() {
		}
	}()
	for _, want := range []string{"image ami-0abcdef1234567890", "subnet subnet-0a1b2c3d4e5f60002", "security group sg-0a1b2c3d4e5f60002", "key pair hf-compute"} {
		if !containsPrefix(created, want) {
			t.Errorf("sandbox --from did not create %s; it created %q", want, created)
		}
	}

	dir := filepath.Join(t.TempDir(), "rehearsal")
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	if o, stderr, exit := run(t, base, "init", "--name", "awsinst", "--from-ibm", examples, "--dir", dir); exit != 0 {
		t.Fatalf("init exit %d: %s %s", exit, o, stderr)
	}
	// Pointed at the sandbox afterwards, as an administrator would.
	if o, stderr, exit := run(t, base, "init", "--name", "awsinst", "--from-ibm", examples, "--dir", dir, "--endpoint-url", url); exit != 0 || !strings.Contains(o, "Updated") {
		t.Fatalf("init --endpoint-url exit %d: %s %s", exit, o, stderr)
	}

	host := &hostfactory.Host{ScriptDir: filepath.Join(dir, "scripts"), WorkDir: t.TempDir(), Env: append(base,
		"HF_PROVIDER_NAME=awsinst", "HF_PROVIDER_CONFDIR="+filepath.Join(dir, "conf"),
		"HF_PROVIDER_WORKDIR="+filepath.Join(dir, "work"), "HF_PROVIDER_LOGDIR="+filepath.Join(dir, "log"),
		"AWS_ACCESS_KEY_ID=anything", "AWS_SECRET_ACCESS_KEY=anything", "AWS_EC2_METADATA_DISABLED=true")}
	e := &env{t: t, url: url, root: dir, hf: host}
	tl, err := host.Templates(e.ctx())
	if err != nil || len(tl.Templates) != 3 {
		t.Fatalf("templates %+v: %v", tl, err)
	}
	for _, tmpl := range tl.Templates {
		reqID := e.request(tmpl.TemplateID, 2)
		req, err := host.Wait(e.ctx(), reqID, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if req.Status != "complete" || len(req.Machines) != 2 {
			t.Errorf("%s: request ended %s with %d machines: %+v", tmpl.TemplateID, req.Status, len(req.Machines), req)
			continue
		}
		retID, err := host.ReturnMachines(e.ctx(), hostfactory.Hosts(req.Machines))
		if err != nil {
			t.Fatal(err)
		}
		if ret := e.wait(retID); ret.Status != "complete" {
			t.Errorf("%s: return ended %s", tmpl.TemplateID, ret.Status)
		}
	}
}

func containsPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
