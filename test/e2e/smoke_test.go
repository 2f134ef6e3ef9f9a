package e2e

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/sandbox"
)

// smokeTemplates are a template of every launch API.
func smokeTemplates() []map[string]any {
	return []map[string]any{
		apiTemplate("ri", "RunInstances", "", nil),
		apiTemplate("fleet-instant", "EC2Fleet", "instant", nil),
		apiTemplate("fleet-request", "EC2Fleet", "request", nil),
		apiTemplate("fleet-maintain", "EC2Fleet", "maintain", nil),
		apiTemplate("spot-fleet", "SpotFleet", "maintain", map[string]any{"priceType": "spot"}),
		apiTemplate("asg", "ASG", "", nil),
	}
}

// TestSmokeEveryAPI runs `ohfp smoke` against the sandbox for a template
// of every launch API: one machine up, checked, returned, nothing left.
func TestSmokeEveryAPI(t *testing.T) {
	for _, tpl := range smokeTemplates() {
		id := tpl["templateId"].(string)
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sandbox.Options{PendingDelay: 200 * time.Millisecond, ShutdownDelay: 200 * time.Millisecond, FleetDelay: 100 * time.Millisecond},
				[]map[string]any{tpl}, nil)
			out, stderr, exit := run(t, e.hf.Env, "smoke", "--template", id, "--yes", "--poll", "100ms", "--timeout", "1m")
			if exit != 0 || !strings.Contains(out, "smoke test of template "+id+" passed") {
				t.Fatalf("smoke exit %d:\n%s\n%s", exit, out, stderr)
			}
			for _, want := range []string{"will launch 1 machine of template " + id, "cost per hour:  " + map[bool]string{true: "spot now, lowest zone: t3.micro $0.0020 (us-east-1a)", false: "not known to ohfp"}[id == "spot-fleet"], "requested 1 machine: req-", ", private IP 10.0.", "nothing of req-"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if left := e.leftovers(); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
			for _, in := range e.sb.Instances() {
				if in.State == sandbox.StatePending || in.State == sandbox.StateRunning {
					t.Errorf("instance %s still %s", in.ID, in.State)
				}
			}
		})
	}
}

// TestSmokeAsksFirst: without --yes, nothing is launched unless confirmed.
func TestSmokeAsksFirst(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("t", 5, nil)}, nil)
	cmd := exec.Command(binary, "smoke", "--template", "t")
	cmd.Env = e.hf.Env
	cmd.Stdin = strings.NewReader("n\n")
	out, _ := cmd.Output()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "Launch it? [y/N]") || !strings.Contains(string(out), "nothing was launched") {
		t.Fatalf("smoke exit %d:\n%s", cmd.ProcessState.ExitCode(), out)
	}
	if n := len(e.sb.Instances()); n != 0 || e.sb.Calls()["ec2:RunInstances"] != 0 {
		t.Errorf("%d instances launched without confirmation", n)
	}
	if _, _, exit := run(t, e.hf.Env, "smoke", "--template", "nope", "--yes"); exit != 2 {
		t.Errorf("unknown template: exit %d, want 2", exit)
	}
}

// TestSmokeCleansUpOnInterrupt sends Ctrl-C (SIGINT) while the machine is
// still coming up: smoke returns it and waits until nothing is left.
func TestSmokeCleansUpOnInterrupt(t *testing.T) {
	e := newEnv(t, sandbox.Options{PendingDelay: time.Hour, ShutdownDelay: 100 * time.Millisecond, FleetDelay: 50 * time.Millisecond},
		[]map[string]any{apiTemplate("fleet", "EC2Fleet", "maintain", nil)}, nil)
	cmd := exec.Command(binary, "smoke", "--template", "fleet", "--yes", "--poll", "100ms", "--timeout", "1m")
	cmd.Env = e.hf.Env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
		// The fleet has launched its machine, which stays pending.
		if strings.Contains(lines.Text(), "executing (pending)") {
			break
		}
	}
	if len(e.alive(strings.Fields(out.String()[strings.Index(out.String(), "req-"):])[0])) == 0 {
		t.Fatalf("no machine came up before the interrupt:\n%s", out.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
	}
	err = cmd.Wait()
	if cmd.ProcessState.ExitCode() == 0 || !strings.Contains(out.String(), "the run was interrupted: returning the machines") ||
		!strings.Contains(out.String(), "nothing of req-") {
		t.Fatalf("smoke after SIGINT: %v\n%s\n%s", err, out.String(), stderr.String())
	}
	if left := e.leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	for _, in := range e.sb.Instances() {
		if in.State == sandbox.StatePending || in.State == sandbox.StateRunning {
			t.Errorf("instance %s still %s", in.ID, in.State)
		}
	}
}
