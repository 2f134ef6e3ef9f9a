package e2e

import (
	"encoding/json"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/lsf/lsftest"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// lsfSite is an LSF installation with ohfp as the provider "aws": the
// folders ebrokerd knows, and the environment it sets before a script.
type lsfSite struct {
	*env
	top, confPath, scriptPath, dataDir, logDir string
}

// newLSF lays out an LSF provider with ohfp init --lsf, as an LSF
// administrator does, and returns a host whose calls carry only the
// environment LSF's ebrokerd sets (no HF_*, no OHFP_BIN, no AWS_*
// variables: credentials come from the conf folder).
func newLSF(t *testing.T, opts sandbox.Options, templates []map[string]any, config map[string]any) *lsfSite {
	t.Helper()
	sb := sandbox.New(opts)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	root := t.TempDir()
	s := &lsfSite{
		top:      filepath.Join(root, "lsf"),
		confPath: filepath.Join(root, "lsf", "conf", "resource_connector", "ohfp"),
		dataDir:  filepath.Join(root, "lsf", "work", "cluster1", "resource_connector"),
		logDir:   filepath.Join(root, "lsf", "log"),
	}
	s.scriptPath = s.confPath
	if out, _, exit := run(t, nil, "init", "--lsf", "--name", "aws", "--region", "us-east-1", "--endpoint-url", srv.URL, "--dir", s.confPath); exit != 0 ||
		!strings.Contains(out, `"type": "awsProv"`) || !strings.Contains(out, "LSB_RC_EXTERNAL_HOST_FLAG") {
		t.Fatalf("init --lsf: exit %d\n%s", exit, out)
	}
	conf := filepath.Join(s.confPath, "conf")
	for _, d := range []string{s.dataDir, s.logDir, filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(conf, "awsprov_config.json"))
	if err != nil || json.Unmarshal(raw, &cfg) != nil {
		t.Fatalf("init --lsf wrote no config: %v", err)
	}
	cfg["AWS_REQUEST_RETRY_ATTEMPTS"], cfg["AWS_CREDENTIAL_FILE"] = 1, "credentials"
	maps.Copy(cfg, config)
	files := map[string][]byte{
		filepath.Join(conf, "credentials"): []byte("[default]\naws_access_key_id = AKIASANDBOX\naws_secret_access_key = sandbox-secret\n"),
	}
	for name, v := range map[string]any{"awsprov_config.json": cfg, "awsprov_templates.json": map[string]any{"templates": templates}} {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Join(conf, name)] = b
	}
	for path, b := range files {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	host := &hostfactory.Host{ScriptDir: filepath.Join(s.scriptPath, "scripts"), WorkDir: filepath.Join(root, "tmp"), Env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + root,
		"AWS_EC2_METADATA_DISABLED=true",
		"PROVIDER_NAME=aws",
		"PRO_CONF_DIR=" + s.confPath,
		"PRO_DATA_DIR=" + s.dataDir,
		"PRO_LSF_LOGDIR=" + s.logDir,
		"PRO_LSF_TOP=" + s.top,
		"SCRIPT_OPTIONS=-DclusterName=cluster1",
		"LSF_ENVDIR=" + filepath.Join(s.top, "conf"),
	}}
	s.env = &env{t: t, sb: sb, url: srv.URL, root: root, hf: host}
	return s
}

// TestLSFEnvironmentFindsItsFolders runs a cycle with only LSF's
// environment: the files in $PRO_CONF_DIR/conf, the state in
// $PRO_DATA_DIR/aws, the log in $PRO_LSF_LOGDIR.
func TestLSFEnvironmentFindsItsFolders(t *testing.T) {
	s := newLSF(t, sandbox.Options{}, []map[string]any{template("lsf-basic", 4, map[string]any{
		"attributes":   map[string]any{"awshost": []string{"Boolean", "1"}, "zone": []string{"String", "us_east_1a"}},
		"instanceTags": "group=project1",
	})}, nil)
	ts, err := s.hf.Templates(s.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if len(ts.Templates) != 1 || ts.Templates[0].TemplateID != "lsf-basic" {
		t.Fatalf("templates %+v", ts.Templates)
	}
	// LSF's attributes: mem derived (t3.micro: 1 GiB), never nram; the
	// site's own kept; instanceTags echoed.
	tp := ts.Templates[0]
	if _, nram := tp.Attributes["nram"]; nram || tp.Attributes["mem"] != [2]string{"Numeric", "1024"} ||
		tp.Attributes["awshost"] != [2]string{"Boolean", "1"} || tp.Attributes["zone"] != [2]string{"String", "us_east_1a"} ||
		tp.Attributes["ncpus"] != [2]string{"Numeric", "2"} || tp.InstanceTags != "group=project1" {
		t.Errorf("template as LSF reads it: %+v", tp)
	}
	id := s.request("lsf-basic", 1)
	if r := s.wait(id); r.Status != "complete" || len(r.Machines) != 1 {
		t.Fatalf("request %+v", r)
	}
	if _, err := os.Stat(filepath.Join(s.dataDir, "aws", "ohfp.db")); err != nil {
		t.Errorf("state not under $PRO_DATA_DIR/aws: %v", err)
	}
	logs, _ := filepath.Glob(filepath.Join(s.logDir, "aws-ohfp.log.*"))
	if len(logs) != 1 {
		t.Errorf("log files in $PRO_LSF_LOGDIR: %v", logs)
	}

	// LSF documents exit 1 for every failure.
	res := s.call("requestMachines", map[string]any{"template": map[string]any{"templateId": "nope", "machineCount": 1}})
	if res.Exit != 1 || !strings.Contains(string(res.Stdout), "TEMPLATE_NOT_FOUND") {
		t.Errorf("unknown template under LSF: exit %d, %s", res.Exit, res.Stdout)
	}
}

// TestLSFAccountTagsAndUserData: a request's rc_account is the RC_ACCOUNT
// tag of its instances and volumes, and the user data is the scripts'
// user_data.sh with the exports IBM's plugin writes for the same template
// and request.
func TestLSFAccountTagsAndUserData(t *testing.T) {
	s := newLSF(t, sandbox.Options{}, []map[string]any{template("lsf-tagged", 4, map[string]any{
		"userData": "zone=us_east_1a;pricing=ondemand", "instanceTags": "group=project1",
	})}, nil)
	var out hostfactory.RequestID
	res := s.call("requestMachines", map[string]any{"template": map[string]any{"templateId": "lsf-tagged", "machineCount": 1}, "rc_account": "proj-a", "userData": map[string]any{}})
	if err := hostfactory.Decode(res.Stdout, &out); err != nil || res.Exit != 0 {
		t.Fatalf("requestMachines: exit %d, %s", res.Exit, res.Stdout)
	}
	r := s.wait(out.RequestID)
	if len(r.Machines) != 1 {
		t.Fatalf("request %+v", r)
	}
	// t3.micro: 1 core, 2 threads per core.
	if m := r.Machines[0]; m.RCAccount != "proj-a" || m.NCores != 1 || m.NThreads != 2 || m.LifeCycleType != "onDemand" || m.PublicDNSName == nil {
		t.Errorf("machine as LSF reads it: %+v", m)
	}
	insts := s.instancesOf(out.RequestID)
	if len(insts) != 1 {
		t.Fatalf("%d instances", len(insts))
	}
	in := insts[0]
	if in.Tags["RC_ACCOUNT"] != "proj-a" || in.VolumeTags["RC_ACCOUNT"] != "proj-a" || in.Tags["group"] != "project1" {
		t.Errorf("instance tags %v, volume tags %v", in.Tags, in.VolumeTags)
	}
	// The user data is init's user_data.sh with the exports in place of
	// %EXPORT_USER_DATA%; a shell sees them as IBM's line.
	script, err := os.ReadFile(filepath.Join(s.scriptPath, "scripts", "user_data.sh"))
	if err != nil {
		t.Fatal(err)
	}
	before, after, _ := strings.Cut(string(script), "%EXPORT_USER_DATA%")
	if !strings.HasPrefix(in.UserData, before) || !strings.HasSuffix(in.UserData, after) {
		t.Errorf("user data is not init's user_data.sh with the exports in place:\n%s", in.UserData)
	}
	names := []string{"zone", "pricing", "rc_account", "template_id", "clustername", "providerName"}
	got, err := lsftest.Exported(lsftest.Exports(in.UserData), names)
	if err != nil {
		t.Fatal(err)
	}
	want, err := lsftest.Exported(lsftest.IBMExports("zone=us_east_1a;pricing=ondemand", "proj-a", "lsf-tagged", "cluster1", "aws"), names)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("the host sees %v, IBM's plugin gives %v; user data:\n%s", got, want, in.UserData)
	}
}

// TestLSFSpotAndTypeLists: a template with spotPrice > 0 launches spot
// instances (through EC2 Fleet, and through Spot Fleet when it names a
// fleetRole), and one with a comma-separated vmType launches the first
// type with capacity.
func TestLSFSpotAndTypeLists(t *testing.T) {
	s := newLSF(t, sandbox.Options{}, []map[string]any{
		template("lsf-spot", 4, map[string]any{"spotPrice": 0.05}),
		template("lsf-spot-fleet", 4, map[string]any{"spotPrice": 0.05, "fleetRole": "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role"}),
		template("lsf-ondemand", 4, map[string]any{"spotPrice": 0}),
		template("lsf-types", 4, map[string]any{"vmType": "t3.micro, t3.small,t3.medium"}),
	}, nil)
	for _, tc := range []struct {
		template, itype string
		spot            bool
	}{
		{"lsf-spot", "", true},
		{"lsf-spot-fleet", "", true},
		{"lsf-ondemand", "", false},
		{"lsf-types", "t3.small", false},
	} {
		if tc.template == "lsf-types" {
			// No t3.micro left: the next type of the list is launched.
			if err := s.sb.SetCapacity("t3.micro", "", 0); err != nil {
				t.Fatal(err)
			}
		}
		id := s.request(tc.template, 1)
		r := s.wait(id)
		insts := s.instancesOf(id)
		if r.Status != "complete" || len(insts) != 1 {
			t.Errorf("%s: request %+v, %d instances", tc.template, r, len(insts))
			continue
		}
		if insts[0].Spot != tc.spot || tc.itype != "" && insts[0].Type != tc.itype {
			t.Errorf("%s: spot %v, type %s; want spot %v, type %q", tc.template, insts[0].Spot, insts[0].Type, tc.spot, tc.itype)
		}
		if want := map[bool]string{true: "spot", false: "onDemand"}[tc.spot]; r.Machines[0].LifeCycleType != want {
			t.Errorf("%s: lifeCycleType %q, want %q", tc.template, r.Machines[0].LifeCycleType, want)
		}
	}
}

// TestLSFCycleAndHostsThatNeverJoined runs LSF's whole cycle through the
// five scripts with only LSF's environment: request with an account,
// status with what LSF reads, a host LSF never names terminated by the
// reconcile pass of getReturnRequests (the sandbox's clock is an hour
// behind, so its hosts are past INSTANCE_CREATION_TIMEOUT at once), a
// return, and a spot reclaim.
func TestLSFCycleAndHostsThatNeverJoined(t *testing.T) {
	s := newLSF(t, sandbox.Options{Now: behind(time.Hour)}, []map[string]any{
		template("lsf-basic", 4, nil),
		template("lsf-spot", 4, map[string]any{"spotPrice": 0.05}),
	}, nil)
	var out hostfactory.RequestID
	res := s.call("requestMachines", map[string]any{"template": map[string]any{"templateId": "lsf-basic", "machineCount": 2}, "rc_account": "proj-a", "userData": map[string]any{}})
	if err := hostfactory.Decode(res.Stdout, &out); err != nil || res.Exit != 0 {
		t.Fatalf("requestMachines: exit %d, %s", res.Exit, res.Stdout)
	}
	r := s.wait(out.RequestID)
	if r.Status != "complete" || len(r.Machines) != 2 {
		t.Fatalf("request %+v", r)
	}
	for _, m := range r.Machines {
		if m.RCAccount != "proj-a" || m.NCores == 0 || m.LifeCycleType != "onDemand" {
			t.Errorf("machine as LSF reads it: %+v", m)
		}
	}
	joined, never := r.Machines[0], r.Machines[1]

	// LSF names one host only: the other never joined, and goes.
	rr, err := s.hf.ReturnRequests(s.ctx(), hostfactory.Hosts([]hostfactory.Machine{joined}))
	if err != nil || len(rr.Requests) != 0 {
		t.Fatalf("getReturnRequests: %+v, %v", rr, err)
	}
	states := map[string]string{}
	for _, in := range s.instancesOf(out.RequestID) {
		states[in.ID] = in.State
	}
	if states[joined.MachineID] != "running" || states[never.MachineID] == "running" {
		t.Fatalf("after the reconcile pass: %v; want %s running, %s gone", states, joined.MachineID, never.MachineID)
	}
	// The audit trail says why, read with LSF's environment.
	trail, stderr, exit := run(t, s.hf.Env, "events", "list", "--request", out.RequestID, "--limit", "0", "-o", "json")
	if exit != 0 || !strings.Contains(trail, never.MachineID) || !strings.Contains(trail, "never joined LSF") {
		t.Errorf("audit trail of the request (exit %d):\n%s%s", exit, trail, stderr)
	}

	// The joined host is returned, and goes.
	ret := mustReturn(t, s.env, []hostfactory.Machine{joined})
	if st := s.wait(ret); st.Status != "complete" {
		t.Errorf("return %+v", st)
	}

	// A spot host AWS reclaims is reported.
	spot := s.wait(s.request("lsf-spot", 1))
	if err := s.sb.Interrupt(spot.Machines[0].MachineID); err != nil {
		t.Fatal(err)
	}
	rr, err = s.hf.ReturnRequests(s.ctx(), hostfactory.Hosts(spot.Machines))
	if err != nil || len(rr.Requests) != 1 || rr.Requests[0].MachineID != spot.Machines[0].MachineID {
		t.Errorf("spot reclaim: %+v, %v", rr, err)
	}
}
