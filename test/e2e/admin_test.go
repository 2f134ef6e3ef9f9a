package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// run runs the ohfp binary with args in env and returns its output and
// exit status.
func run(t *testing.T, env []string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("ohfp %v: %v", args, err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// TestInitFolderRunsDemoCycle installs a provider instance with `ohfp init`
// into a fresh folder and drives the demo's cycle through its scripts and
// its copy of the binary, with nothing edited.
func TestInitFolderRunsDemoCycle(t *testing.T) {
	sb := sandbox.New(sandbox.Options{PendingDelay: 300 * time.Millisecond})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	dir := filepath.Join(t.TempDir(), "awsinst")
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, stderr, exit := run(t, base, "init", "--name", "awsinst", "--region", "us-east-1", "--dir", dir, "--endpoint-url", srv.URL)
	if exit != 0 {
		t.Fatalf("init exit %d: %s %s", exit, out, stderr)
	}
	for _, want := range []string{`"providerplugins"`, `"scriptPath": "` + dir + `/scripts/"`, `"confPath": "` + dir + `/conf/"`, `"plugin": "ohfp_awsinst"`} {
		if !strings.Contains(out, want) {
			t.Errorf("init output lacks %s:\n%s", want, out)
		}
	}
	if out, _, exit := run(t, base, "init", "--name", "awsinst", "--region", "us-east-1", "--dir", dir); exit != 0 || !strings.Contains(out, "Kept") || strings.Contains(out, "Wrote") {
		t.Errorf("a second init without --force did not keep the folder (exit %d):\n%s", exit, out)
	}

	// HostFactory's environment for the instance, as hostProviders.json
	// gives it; no OHFP_BIN, so the scripts run the binary next to them.
	host := &hostfactory.Host{ScriptDir: filepath.Join(dir, "scripts"), WorkDir: t.TempDir(), Env: append(base,
		"HF_PROVIDER_NAME=awsinst", "HF_PROVIDER_CONFDIR="+filepath.Join(dir, "conf"),
		"HF_PROVIDER_WORKDIR="+filepath.Join(dir, "work"), "HF_PROVIDER_LOGDIR="+filepath.Join(dir, "log"),
		"AWS_ACCESS_KEY_ID=AKIASANDBOX", "AWS_SECRET_ACCESS_KEY=sandbox-secret", "AWS_EC2_METADATA_DISABLED=true")}
	e := &env{t: t, sb: sb, url: srv.URL, root: dir, hf: host}

	tl, err := host.Templates(e.ctx())
	if err != nil || len(tl.Templates) != 1 {
		t.Fatalf("templates %+v: %v", tl, err)
	}
	reqID := e.request(tl.Templates[0].TemplateID, 3)
	req := e.wait(reqID)
	if req.Status != "complete" || len(req.Machines) != 3 {
		t.Fatalf("request ended %s with %d machines", req.Status, len(req.Machines))
	}
	retID, err := host.ReturnMachines(e.ctx(), hostfactory.Hosts(req.Machines))
	if err != nil {
		t.Fatal(err)
	}
	if ret := e.wait(retID); ret.Status != "complete" {
		t.Fatalf("return ended %s", ret.Status)
	}
	gone, err := host.ReturnRequests(e.ctx(), hostfactory.Hosts(req.Machines))
	if err != nil || len(gone.Requests) != 3 {
		t.Fatalf("getReturnRequests %+v: %v", gone, err)
	}
	for _, in := range e.instancesOf(reqID) {
		if in.State != "terminated" && in.State != "shutting-down" {
			t.Errorf("instance %s left %s", in.ID, in.State)
		}
	}
	// The scripts ran the copy in the folder: its log is there.
	if _, err := os.Stat(filepath.Join(dir, "log", "ohfp.log")); err != nil {
		t.Errorf("no log in the instance's log folder: %v", err)
	}
}

func TestDoctorAgainstSandbox(t *testing.T) {
	good := template("good", 5, map[string]any{"keyName": sandbox.DefaultKeyName})
	t.Run("passes", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{}, []map[string]any{good}, nil)
		out, _, exit := run(t, e.hf.Env, "doctor")
		if exit != 0 || !strings.HasSuffix(out, "all checks passed\n") || strings.Contains(out, "FAIL") {
			t.Fatalf("doctor exit %d:\n%s", exit, out)
		}
	})
	t.Run("missing subnet", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{}, []map[string]any{good, template("bad", 5, map[string]any{"subnetId": "subnet-0nosuchsubnet1"})}, nil)
		out, _, exit := run(t, e.hf.Env, "doctor")
		want := "FAIL  subnet subnet-0nosuchsubnet1 exists (template bad): not found in us-east-1 (hint: fix subnetId of template bad, or create it in us-east-1)\n"
		if exit != 1 || !strings.Contains(out, want) {
			t.Fatalf("doctor exit %d, want 1 and the line\n%s\ngot:\n%s", exit, want, out)
		}
	})
	t.Run("denied", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{}, []map[string]any{good}, nil)
		if err := e.sb.AddFault(sandbox.Fault{Action: "ec2:RunInstances", Code: "UnauthorizedOperation"}); err != nil {
			t.Fatal(err)
		}
		out, _, exit := run(t, e.hf.Env, "doctor", "--json")
		var r struct {
			OK     bool
			Checks []struct{ Name, Status, Detail, Hint string }
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, out)
		}
		i := slices.IndexFunc(r.Checks, func(c struct{ Name, Status, Detail, Hint string }) bool {
			return c.Name == "template good may launch instances"
		})
		if exit != 1 || r.OK || i < 0 || r.Checks[i].Status != "fail" || !strings.HasPrefix(r.Checks[i].Detail, "ec2:RunInstances denied: UnauthorizedOperation") {
			t.Fatalf("doctor exit %d:\n%s", exit, out)
		}
	})
}

// TestDoctorDryRunsEveryAPI: doctor dry-runs each template's own API
// through the provider's launch spec, and names a denied call with the
// policy hint.
func TestDoctorDryRunsEveryAPI(t *testing.T) {
	templates := []map[string]any{
		apiTemplate("ri", "RunInstances", "", nil),
		apiTemplate("fleet", "EC2Fleet", "instant", nil),
		apiTemplate("spot", "SpotFleet", "request", map[string]any{"priceType": "spot"}),
		apiTemplate("asg", "ASG", "", nil),
	}
	report := func(t *testing.T, e *env) (map[string]doctorCheck, int) {
		out, _, exit := run(t, e.hf.Env, "doctor", "--json")
		var r struct{ Checks []doctorCheck }
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, out)
		}
		byName := map[string]doctorCheck{}
		for _, c := range r.Checks {
			byName[c.Name] = c
		}
		return byName, exit
	}
	want := []string{
		"template ri may launch instances",
		"template fleet may launch instances", "template fleet may call ec2:CreateLaunchTemplate", "template fleet may call ec2:CreateFleet",
		"template spot may launch instances", "template spot may call ec2:CreateLaunchTemplate", "template spot may call ec2:RequestSpotFleet",
		"template asg may launch instances", "template asg may call ec2:CreateLaunchTemplate",
	}
	t.Run("allowed", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{}, templates, nil)
		checks, exit := report(t, e)
		for _, name := range want {
			if c, ok := checks[name]; !ok || c.Status != "pass" {
				t.Errorf("%q: %+v (present %v)", name, c, ok)
			}
		}
		if exit != 0 {
			t.Errorf("doctor exit %d: %v", exit, checks)
		}
		if n := e.sb.Calls()["ec2:CreateFleet"] + e.sb.Calls()["ec2:RequestSpotFleet"]; n != 2 || len(e.sb.Instances()) != 0 || len(e.sb.Fleets()) != 0 {
			t.Errorf("doctor launched something: %d fleet calls, %d instances, %d fleets", n, len(e.sb.Instances()), len(e.sb.Fleets()))
		}
	})
	for _, action := range []string{"ec2:CreateFleet", "ec2:RequestSpotFleet", "ec2:CreateLaunchTemplate"} {
		t.Run("denied "+action, func(t *testing.T) {
			e := newEnv(t, sandbox.Options{}, templates, nil)
			if err := e.sb.AddFault(sandbox.Fault{Action: action, Code: "UnauthorizedOperation"}); err != nil {
				t.Fatal(err)
			}
			checks, exit := report(t, e)
			if exit != 1 {
				t.Errorf("doctor exit %d, want 1", exit)
			}
			for _, name := range want {
				c := checks[name]
				if !strings.HasSuffix(name, action) {
					if c.Status != "pass" {
						t.Errorf("%q: %+v", name, c)
					}
					continue
				}
				if c.Status != "fail" || !strings.HasPrefix(c.Detail, action+" denied: UnauthorizedOperation") || !strings.Contains(c.Hint, "ohfp iam-policy") {
					t.Errorf("%q: %+v, want a failure naming the denied %s", name, c, action)
				}
			}
		})
	}
}

type doctorCheck struct{ Name, Status, Detail, Hint string }

func TestIAMPolicyCommand(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("t1", 5, nil)}, nil)
	out, stderr, exit := run(t, e.hf.Env, "iam-policy")
	var p struct {
		Version   string
		Statement []struct {
			Sid    string
			Action []string
		}
	}
	if err := json.Unmarshal([]byte(out), &p); exit != 0 || err != nil || p.Version != "2012-10-17" || len(p.Statement) == 0 {
		t.Fatalf("iam-policy exit %d (%v): %s %s", exit, err, out, stderr)
	}
	if strings.Contains(out, "ec2:CreateFleet") || !strings.Contains(out, `"ec2:RunInstances"`) {
		t.Errorf("RunInstances-only policy:\n%s", out)
	}
}

func TestHumanCommands(t *testing.T) {
	e := newEnv(t, sandbox.Options{PendingDelay: 300 * time.Millisecond}, []map[string]any{
		template("t1", 5, map[string]any{"userData": "TOKEN=abc"}), template("t2", 5, nil),
	}, nil)
	reqID := e.request("t1", 2)
	// HostFactory follows it.
	if _, err := e.hf.Status(e.ctx(), reqID); err != nil {
		t.Fatal(err)
	}

	// watch follows the request to the end; off a terminal it prints a
	// line per change.
	out, stderr, exit := run(t, e.hf.Env, "requests", "watch", reqID)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; exit != 0 || !strings.HasPrefix(last, reqID+" complete after ") || !strings.HasSuffix(last, ": 2 running, 0 pending, 0 failed of 2") {
		t.Fatalf("watch exit %d: %s %s", exit, out, stderr)
	}

	out, _, _ = run(t, e.hf.Env, "requests", "list", "-o", "json")
	var reqs []map[string]any
	if err := json.Unmarshal([]byte(out), &reqs); err != nil || len(reqs) != 1 || reqs[0]["request_id"] != reqID || reqs[0]["status"] != "complete" {
		t.Fatalf("requests list: %v\n%s", err, out)
	}
	out, _, _ = run(t, e.hf.Env, "requests", "show", reqID, "-o", "json", "--legacy")
	var shown struct {
		RequestID string `json:"requestId"`
		Status    string
		Machines  []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || shown.RequestID != reqID || shown.Status != "complete" || len(shown.Machines) != 2 || shown.Machines[0]["machineId"] == nil {
		t.Fatalf("requests show --legacy: %v\n%s", err, out)
	}
	if _, stderr, exit := run(t, e.hf.Env, "requests", "show", "req-unknown"); exit == 0 || !strings.Contains(stderr, "req-unknown not found") {
		t.Errorf("show of an unknown request: exit %d %s", exit, stderr)
	}

	out, _, _ = run(t, e.hf.Env, "machines", "list", "-o", "yaml", "--template", "t1")
	var ms []map[string]any
	if err := yaml.Unmarshal([]byte(out), &ms); err != nil || len(ms) != 2 || ms[0]["result"] != "succeed" || ms[0]["request_id"] != reqID {
		t.Fatalf("machines list: %v\n%s", err, out)
	}

	out, _, _ = run(t, e.hf.Env, "templates", "list", "-o", "table")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "TEMPLATE ID") || !strings.Contains(lines[1], "t1") || !strings.Contains(lines[1], " 3 ") {
		t.Errorf("templates list table:\n%s", out)
	}
	out, _, _ = run(t, e.hf.Env, "templates", "show", "t1", "-o", "json")
	if strings.Contains(out, "TOKEN=abc") || !strings.Contains(out, `"user_data": "(9 bytes, not shown)"`) {
		t.Errorf("templates show must not print user data:\n%s", out)
	}
	out, stderr, exit = run(t, e.hf.Env, "templates", "validate")
	if exit != 0 || !strings.Contains(out, "2 templates valid: t1, t2") {
		t.Errorf("validate: exit %d %s %s", exit, out, stderr)
	}
	broken := filepath.Join(t.TempDir(), "awsinstprov_templates.json")
	if err := os.WriteFile(broken, []byte(`{"templates": [{"templateId": "x", "maxNumber": 1, "vmType": "not a type"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, exit := run(t, e.hf.Env, "templates", "validate", broken); exit == 0 || !strings.Contains(stderr, "vmType") {
		t.Errorf("validate of a broken file: exit %d %s", exit, stderr)
	}
	// Any file name; every bad template is reported, not only the first.
	mixed := filepath.Join(t.TempDir(), "candidate.json")
	if err := os.WriteFile(mixed, []byte(`{"templates": [{"templateId": "ok", "maxNumber": 1, "imageId": "ami-0123456789abcdef0", "vmType": "t3.micro"},`+
		`{"templateId": "typo", "maxNumber": 1, "imageId": "ami-0123456789abcdef0", "vmType": "c5.2xlargee"},`+
		`{"templateId": "noimage", "maxNumber": 1, "vmType": "t3.micro"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, stderr, exit := run(t, e.hf.Env, "templates", "validate", mixed); exit != 1 || !strings.Contains(out, "1 templates valid: ok") ||
		!strings.Contains(out, `left out: candidate.json: templates[1].vmType: must be an EC2 instance type`) ||
		!strings.Contains(out, `left out: candidate.json: templates[2].imageId`) {
		t.Errorf("validate of a file with bad templates: exit %d\n%s%s", exit, out, stderr)
	}

	out, _, _ = run(t, e.hf.Env, "--help")
	if !strings.Contains(out, "completion") {
		t.Errorf("help lists no completion command:\n%s", out)
	}
	if out, _, exit := run(t, e.hf.Env, "completion", "bash"); exit != 0 || !strings.Contains(out, "__start_ohfp") {
		t.Errorf("completion bash: exit %d", exit)
	}
	// Completion offers template ids, request ids and flag values.
	for args, want := range map[string]string{
		"templates show ":          "t1\n",
		"requests watch ":          reqID + "\n",
		"requests list --state co": "complete_with_error\n",
		"machines list -o w":       "wide\n",
	} {
		words := append([]string{"__complete"}, strings.Split(args, " ")...)
		if out, _, _ := run(t, e.hf.Env, words...); !strings.Contains(out, want) {
			t.Errorf("completion of %q offers:\n%s\nwant %q", args, out, want)
		}
	}
}
