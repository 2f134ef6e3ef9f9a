package e2e

import (
	"encoding/json"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
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

// TestLSFResourceConnector is LSF's whole life cycle with ohfp, run as an
// LSF administrator sets it up: an `ohfp init --lsf` folder, and the five
// scripts called with only the environment LSF's ebrokerd sets. It checks,
// in the order a cluster meets them:
//   - the files in $PRO_CONF_DIR/conf, the state in $PRO_DATA_DIR/aws, the
//     log in $PRO_LSF_LOGDIR, exit 1 for every failure;
//   - templates as LSF reads them: mem derived and no nram, the site's
//     attributes kept, instanceTags and userData echoed, a template with
//     a key ohfp refuses under LSF (ec2FleetConfig) left out alone;
//   - a request with an account: RC_ACCOUNT on instances and volumes,
//     rcAccount, ncores, nthreads, lifeCycleType in status, and user data
//     that is init's user_data.sh with the exports IBM's plugin writes;
//   - spotPrice > 0 launching spot (EC2 Fleet, and Spot Fleet with a
//     fleetRole); a comma list of types launching the next type with
//     capacity;
//   - a host LSF never names terminated by the reconcile pass of
//     getReturnRequests, with its reason in the audit trail (the sandbox's
//     clock is an hour behind, so every host is past
//     INSTANCE_CREATION_TIMEOUT at once: no waiting);
//   - a return, and a spot reclaim reported by getReturnRequests.
func TestLSFResourceConnector(t *testing.T) {
	const userData = "zone=us_east_1a;pricing=ondemand"
	s := newLSF(t, sandbox.Options{Now: behind(time.Hour)}, []map[string]any{
		template("lsf-basic", 6, map[string]any{
			"attributes":   map[string]any{"awshost": []string{"Boolean", "1"}, "zone": []string{"String", "us_east_1a"}},
			"instanceTags": "group=project1",
			"userData":     userData,
		}),
		template("lsf-spot", 4, map[string]any{"spotPrice": 0.05}),
		template("lsf-spot-fleet", 4, map[string]any{"spotPrice": 0.05, "fleetRole": "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role"}),
		template("lsf-types", 4, map[string]any{"vmType": "t3.micro, t3.small,t3.medium"}),
		template("lsf-fleet-file", 4, map[string]any{"ec2FleetConfig": "fleet.json"}),
	}, nil)

	// getAvailableTemplates.
	ts, err := s.hf.Templates(s.ctx())
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]hostfactory.Template{}
	for _, tp := range ts.Templates {
		byID[tp.TemplateID] = tp
	}
	if _, refused := byID["lsf-fleet-file"]; refused || len(byID) != 4 {
		t.Fatalf("templates %v: want the four but lsf-fleet-file", slices.Collect(maps.Keys(byID)))
	}
	// t3.micro: 2 vCPUs, 1 GiB.
	if tp := byID["lsf-basic"]; tp.Attributes["mem"] != [2]string{"Numeric", "1024"} || tp.Attributes["ncpus"] != [2]string{"Numeric", "2"} ||
		tp.Attributes["awshost"] != [2]string{"Boolean", "1"} || tp.Attributes["zone"] != [2]string{"String", "us_east_1a"} ||
		tp.InstanceTags != "group=project1" || tp.UserData != userData {
		t.Errorf("template as LSF reads it: %+v", tp)
	}
	for _, tp := range byID {
		if _, nram := tp.Attributes["nram"]; nram {
			t.Errorf("%s: nram under LSF: %v", tp.TemplateID, tp.Attributes)
		}
	}

	// requestMachines with an account, then getRequestStatus.
	var out hostfactory.RequestID
	res := s.call("requestMachines", map[string]any{"template": map[string]any{"templateId": "lsf-basic", "machineCount": 2}, "rc_account": "proj-a", "userData": map[string]any{}})
	if err := hostfactory.Decode(res.Stdout, &out); err != nil || res.Exit != 0 {
		t.Fatalf("requestMachines: exit %d, %s", res.Exit, res.Stdout)
	}
	basic := s.wait(out.RequestID)
	if basic.Status != "complete" || len(basic.Machines) != 2 {
		t.Fatalf("request %+v", basic)
	}
	// t3.micro: 1 core, 2 threads per core.
	for _, m := range basic.Machines {
		if m.RCAccount != "proj-a" || m.NCores != 1 || m.NThreads != 2 || m.LifeCycleType != "onDemand" || m.PublicDNSName == nil {
			t.Errorf("machine as LSF reads it: %+v", m)
		}
	}
	script, err := os.ReadFile(filepath.Join(s.scriptPath, "scripts", "user_data.sh"))
	if err != nil {
		t.Fatal(err)
	}
	before, after, _ := strings.Cut(string(script), "%EXPORT_USER_DATA%")
	names := []string{"zone", "pricing", "rc_account", "template_id", "clustername", "providerName"}
	want, err := lsftest.Exported(lsftest.IBMExports(userData, "proj-a", "lsf-basic", "cluster1", "aws"), names)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range s.instancesOf(out.RequestID) {
		if in.Tags["RC_ACCOUNT"] != "proj-a" || in.VolumeTags["RC_ACCOUNT"] != "proj-a" || in.Tags["group"] != "project1" {
			t.Errorf("%s: instance tags %v, volume tags %v", in.ID, in.Tags, in.VolumeTags)
		}
		// init's user_data.sh with the exports in place of
		// %EXPORT_USER_DATA%, which a shell sees as IBM's line.
		if !strings.HasPrefix(in.UserData, before) || !strings.HasSuffix(in.UserData, after) {
			t.Errorf("%s: user data is not init's user_data.sh with the exports in place:\n%s", in.ID, in.UserData)
		}
		got, err := lsftest.Exported(lsftest.Exports(in.UserData), names)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: the host sees %v, IBM's plugin gives %v", in.ID, got, want)
		}
	}

	// Spot templates and a list of types.
	hosts := map[string][]hostfactory.Machine{}
	for _, tc := range []struct {
		template, itype string
		spot            bool
	}{
		{"lsf-spot", "t3.micro", true},
		{"lsf-spot-fleet", "t3.micro", true},
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
		if r.Status != "complete" || len(insts) != 1 || len(r.Machines) != 1 {
			t.Fatalf("%s: request %+v, %d instances", tc.template, r, len(insts))
		}
		if insts[0].Spot != tc.spot || insts[0].Type != tc.itype {
			t.Errorf("%s: spot %v, type %s; want spot %v, type %s", tc.template, insts[0].Spot, insts[0].Type, tc.spot, tc.itype)
		}
		if want := map[bool]string{true: "spot", false: "onDemand"}[tc.spot]; r.Machines[0].LifeCycleType != want {
			t.Errorf("%s: lifeCycleType %q, want %q", tc.template, r.Machines[0].LifeCycleType, want)
		}
		hosts[tc.template] = r.Machines
	}

	// getReturnRequests: LSF names every host but one, which never
	// joined and goes.
	joined, never := basic.Machines[0], basic.Machines[1]
	named := []hostfactory.Machine{joined}
	for _, ms := range hosts {
		named = append(named, ms...)
	}
	rr, err := s.hf.ReturnRequests(s.ctx(), hostfactory.Hosts(named))
	if err != nil || len(rr.Requests) != 0 {
		t.Fatalf("getReturnRequests: %+v, %v", rr, err)
	}
	gone := map[string]bool{}
	for _, in := range s.sb.Instances() {
		gone[in.ID] = in.State != "running"
	}
	if !gone[never.MachineID] {
		t.Errorf("%s never joined and still runs", never.MachineID)
	}
	for _, m := range named {
		if gone[m.MachineID] {
			t.Errorf("%s was named by LSF and is gone", m.MachineID)
		}
	}
	trail, stderr, exit := run(t, s.hf.Env, "events", "list", "--request", out.RequestID, "--limit", "0", "-o", "json")
	if exit != 0 || !strings.Contains(trail, never.MachineID) || !strings.Contains(trail, "never joined LSF") {
		t.Errorf("audit trail of the request (exit %d):\n%s%s", exit, trail, stderr)
	}

	// requestReturnMachines, then getRequestStatus of the return.
	if st := s.wait(mustReturn(t, s.env, []hostfactory.Machine{joined})); st.Status != "complete" {
		t.Errorf("return %+v", st)
	}

	// A spot host AWS reclaims is reported by getReturnRequests.
	spot := hosts["lsf-spot"][0]
	if err := s.sb.Interrupt(spot.MachineID); err != nil {
		t.Fatal(err)
	}
	rr, err = s.hf.ReturnRequests(s.ctx(), hostfactory.Hosts(named[1:]))
	if err != nil || len(rr.Requests) != 1 || rr.Requests[0].MachineID != spot.MachineID {
		t.Errorf("spot reclaim: %+v, %v", rr, err)
	}

	// Where LSF's environment put the state and the log, and what the log
	// says of the template left out.
	if _, err := os.Stat(filepath.Join(s.dataDir, "aws", "ohfp.db")); err != nil {
		t.Errorf("state not under $PRO_DATA_DIR/aws: %v", err)
	}
	logs, _ := filepath.Glob(filepath.Join(s.logDir, "aws-ohfp.log.*"))
	if len(logs) != 1 {
		t.Fatalf("log files in $PRO_LSF_LOGDIR: %v", logs)
	}
	if log, err := os.ReadFile(logs[0]); err != nil || !strings.Contains(string(log), "ec2FleetConfig: not supported under LSF") {
		t.Errorf("the log does not say why lsf-fleet-file is left out (%v)", err)
	}
	// LSF documents exit 1 for every failure.
	res = s.call("requestMachines", map[string]any{"template": map[string]any{"templateId": "lsf-fleet-file", "machineCount": 1}})
	if res.Exit != 1 || !strings.Contains(string(res.Stdout), "TEMPLATE_NOT_FOUND") {
		t.Errorf("a template left out, under LSF: exit %d, %s", res.Exit, res.Stdout)
	}
}
