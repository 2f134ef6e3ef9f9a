package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// withoutSection is YAML text without the top-level section key.
func withoutSection(text, key string) string {
	var out []string
	skip := false
	for _, l := range strings.Split(text, "\n") {
		if l != "" && l[0] != ' ' && l[0] != '#' {
			skip = strings.HasPrefix(l, key+":")
		}
		if !skip {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// refusedAsFlat: the guide's text of a YAML example, which lost its
// nesting, does not load as the configuration the guide means: the call
// is refused with CONFIGURATION_ERROR saying the indentation is lost, or
// the keys the flat text puts at the top level are reported unused.
func refusedAsFlat(t *testing.T, e *env) {
	t.Helper()
	res := e.call("getAvailableTemplates", hostfactory.Raw("{}"))
	if res.Exit == 1 {
		if f := answer[hostfactory.Error](t, res, 1); f.Error.Code != "CONFIGURATION_ERROR" || !strings.Contains(f.Message, "indentation") {
			t.Errorf("the flat text is refused without saying why: %s", res.Stdout)
		}
		return
	}
	if w := settingsWarnings(e, res); w == nil {
		t.Errorf("the flat text loads without a word: exit %d\n%s\n%s", res.Exit, res.Stdout, res.Stderr)
	}
	if out, exit := e.strict(); exit == 0 {
		t.Errorf("templates validate --strict passes the flat text:\n%s", out)
	}
}

// cycle runs one request of template through the guides' flat inputs: it
// is listed, granted, completed and returned, and no setting of the
// configuration is reported unused.
func cycle(t *testing.T, e *env, template string, n int) string {
	t.Helper()
	res := e.call("getAvailableTemplates", hostfactory.Raw("{}"))
	got := answer[map[string]any](t, res, 0)
	if miss := within(map[string]any{"templates": []any{map[string]any{"templateId": template}}}, got, ""); miss != nil {
		t.Fatalf("templates: %v", miss)
	}
	if w := settingsWarnings(e, res); w != nil {
		t.Errorf("settings reported unused: %v", w)
	}
	g := answer[map[string]any](t, e.call("requestMachines", hostfactory.Raw(`{"templateId": "`+template+`", "maxNumber": `+itoa(n)+`}`)), 0)
	id := g["requestId"].(string)
	if r := e.wait(id); r.Status != "complete" || len(r.Machines) != n {
		t.Fatalf("request %s: %s with %d machines", id, r.Status, len(r.Machines))
	}
	return id
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// returnAll returns every machine of request id with the guides' input.
func returnAll(t *testing.T, e *env, id string) {
	t.Helper()
	got := answer[map[string]any](t, e.call("requestReturnMachines", hostfactory.Raw(`{"requestId": "`+id+`"}`)), 0)
	if ret, _ := got["requestId"].(string); !strings.HasPrefix(ret, "ret-") {
		t.Fatalf("return of %s answered %v", id, got)
	}
}

// storages are the two stores the deployment scenarios run on: DynamoDB as
// the guide writes it, and SQLite with the storage section removed.
var storages = []string{"dynamodb", "sqlite"}

// scenarioText is a scenario's YAML for storage.
func scenarioText(c guideCase, storage string) string {
	if storage == "sqlite" {
		return withoutSection(c.Indented, "storage")
	}
	return c.Indented
}

// checkScenario1: the single-region deployment, templates embedded.
func checkScenario1(t *testing.T, c guideCase) {
	refusedAsFlat(t, guideEnv(t, sandbox.Options{}, "config.yml", c.Text, nil))
	for _, storage := range storages {
		t.Run(storage, func(t *testing.T) {
			var vars []string
			if storage == "dynamodb" {
				vars = append(vars, guideDynamoDB(t, "hostfactory"))
			}
			e := guideEnv(t, sandbox.Options{}, "config.yml", scenarioText(c, storage), nil, vars...)
			returnAll(t, e, cycle(t, e, "basic-template", 2))
		})
	}
}

// region is one provider instance of the multi-region scenario.
type region struct {
	name string
	e    *env
}

// checkScenario2: the multi-region deployment. Both provider instances
// run with their own names (the guide's PROVIDER_NAME), templates and
// cloud, in one work folder; with the storage section removed they must
// still share nothing: each sees only its own requests and machines, and
// counts only its own machines against maxNumber.
func checkScenario2(t *testing.T, c guideCase) {
	pair := map[string]guideCase{}
	for _, x := range guideCases(t) {
		if strings.HasPrefix(x.Name, "integration/scenario2-") {
			pair[strings.TrimPrefix(x.Name, "integration/scenario2-")] = x
		}
	}
	refusedAsFlat(t, guideEnv(t, sandbox.Options{}, "config.yml", c.Text, nil))
	if c.Name != "integration/scenario2-us-east-1" {
		t.Skip("run with integration/scenario2-us-east-1, its pair")
	}
	for _, storage := range storages {
		t.Run(storage, func(t *testing.T) {
			var vars []string
			if storage == "dynamodb" {
				vars = append(vars, guideDynamoDB(t, "hostfactory-east", "hostfactory-west"))
			}
			work := t.TempDir()
			var regions []region
			for _, name := range []string{"us-east-1", "us-west-2"} {
				provider := "aws-" + name
				e := newEnv(t, sandbox.Options{Region: name}, []map[string]any{guideTemplate("basic-template", 2, "t3.medium")}, nil)
				if err := os.Rename(e.confFile("awsinstprov_templates.json"), e.confFile(provider+"prov_templates.json")); err != nil {
					t.Fatal(err)
				}
				e.useConfig(provider+".yml", scenarioText(pair[name], storage), true,
					append([]string{"HF_PROVIDER_NAME=" + provider, "HF_PROVIDER_WORKDIR=" + work}, vars...)...)
				regions = append(regions, region{provider, e})
			}
			ids := map[string]string{}
			for _, r := range regions {
				// Each fills its template: maxNumber 2 holds for each alone.
				ids[r.name] = cycle(t, r.e, "basic-template", 2)
			}
			for i, r := range regions {
				other := regions[1-i]
				got := answer[map[string]any](t, r.e.call("getRequestStatus", hostfactory.Raw(`{"requestId": "`+ids[other.name]+`"}`)), 0)
				if st := got["requests"].([]any)[0].(map[string]any); st["status"] != "complete_with_error" || len(st["machines"].([]any)) != 0 {
					t.Errorf("%s sees %s's request: %v", r.name, other.name, st)
				}
				out, stderr, exit := run(t, r.e.hf.Env, "machines", "list")
				for _, inst := range other.e.instancesOf(ids[other.name]) {
					if exit != 0 || strings.Contains(out, inst.ID) {
						t.Errorf("%s lists %s's machine %s (exit %d)\n%s%s", r.name, other.name, inst.ID, exit, out, stderr)
					}
				}
				for _, inst := range r.e.instancesOf(ids[r.name]) {
					if !strings.Contains(out, inst.ID) {
						t.Errorf("%s does not list its machine %s:\n%s", r.name, inst.ID, out)
					}
				}
				tl := answer[map[string]any](t, r.e.call("getAvailableTemplates", hostfactory.Raw("{}")), 0)
				if n := tl["templates"].([]any)[0].(map[string]any)["availableNumber"]; n != 0.0 {
					t.Errorf("%s: availableNumber %v, want 0 (its own 2 of 2)", r.name, n)
				}
			}
			if storage == "sqlite" {
				for _, f := range []string{"ohfp.db", "ohfp-aws-us-west-2.db"} {
					if _, err := os.Stat(filepath.Join(work, f)); err != nil {
						t.Errorf("store file %s: %v", f, err)
					}
				}
			}
			for _, r := range regions {
				returnAll(t, r.e, ids[r.name])
			}
		})
	}
}

// checkScenario3: the high-availability deployment. Two values are
// replaced, and only them: the log file, since tests write nowhere but
// their own folders, and the metrics endpoint, since tests talk only to
// 127.0.0.1: a local Pushgateway stands for monitoring.internal. The
// profile is a credentials file's; backup_enabled turns on point-in-time
// recovery of the tables the first call creates.
func checkScenario3(t *testing.T, c guideCase) {
	refusedAsFlat(t, guideEnv(t, sandbox.Options{}, "production.yml", c.Text, nil))
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(creds, []byte("[production]\naws_access_key_id = AKIASANDBOX\naws_secret_access_key = sandbox-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, storage := range storages {
		t.Run(storage, func(t *testing.T) {
			vars := []string{"AWS_SHARED_CREDENTIALS_FILE=" + creds, "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="}
			var calls *dynamoRecorder
			if storage == "dynamodb" {
				guideDynamoDB(t, "hostfactory-prod")
				endpoint, _ := dynamoLocal()
				var proxy string
				calls, proxy = recordDynamo(t, endpoint)
				vars = append(vars, "AWS_ENDPOINT_URL_DYNAMODB="+proxy)
			}
			logFile := filepath.Join(t.TempDir(), "app.log")
			gateway := pushgateway(t)
			text := strings.NewReplacer(
				"/var/log/hostfactory-plugin/app.log", logFile,
				"http://monitoring.internal:8080/metrics", gateway.url,
			).Replace(scenarioText(c, storage))
			e := guideEnv(t, sandbox.Options{}, "production.yml", text,
				[]map[string]any{guideTemplate("basic-template", 10, "t3.medium")}, vars...)
			returnAll(t, e, cycle(t, e, "basic-template", 1))
			if b, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(b), `"operation":"requestMachines"`) {
				t.Errorf("log file %s: %v\n%s", logFile, err, b)
			}
			gateway.expect(t, "awsinst", "requestMachines")
			if storage == "dynamodb" {
				// DynamoDB Local has no point-in-time recovery: the call
				// asking for it is what can be checked.
				var asked []string
				for _, c := range calls.take() {
					if c.Action == "dynamodb:UpdateContinuousBackups" && c.Params["PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled"] == "true" {
						asked = append(asked, c.Params["TableName"])
					}
				}
				slices.Sort(asked)
				if !slices.Contains(asked, "hostfactory-prod-requests") || !slices.Contains(asked, "hostfactory-prod-machines") {
					t.Errorf("point-in-time recovery asked for %v", asked)
				}
			}
		})
	}
}

// checkSecureTemplate: the integration guide's network snippet, as the
// templates of a config file (the region from the environment). It gives
// no maxNumber, image or instance type, so the configuration is refused,
// naming the template and the first key it lacks; completed with the
// scenarios' max_number, vm_type and image_id, it launches into its
// subnet and security groups.
func checkSecureTemplate(t *testing.T, c guideCase) {
	refusedAsFlat(t, guideEnv(t, sandbox.Options{}, "config.yml", c.Text, nil, "AWS_REGION=us-east-1"))
	e := guideEnv(t, sandbox.Options{}, "config.yml", c.Indented, nil, "AWS_REGION=us-east-1")
	f := e.failure("getAvailableTemplates", hostfactory.Raw("{}"), 1)
	if f.Error.Code != "CONFIGURATION_ERROR" || f.Error.Details["template"] != "secure-template" {
		t.Errorf("the snippet's template: %+v", f)
	}
	complete := strings.Replace(c.Indented, "    attributes:\n",
		"    max_number: 10\n    attributes:\n      vm_type: t3.medium\n      image_id: ami-0abcdef1234567890\n", 1)
	e = guideEnv(t, sandbox.Options{}, "config.yml", complete, nil, "AWS_REGION=us-east-1")
	id := cycle(t, e, "secure-template", 1)
	for _, inst := range e.instancesOf(id) {
		slices.Sort(inst.SecurityGroupIDs)
		if inst.SubnetID != "subnet-abcdef12" || !slices.Equal(inst.SecurityGroupIDs, []string{"sg-12345678", "sg-87654321"}) {
			t.Errorf("instance %s in %s with %v", inst.ID, inst.SubnetID, inst.SecurityGroupIDs)
		}
	}
}

// checkDebugLogging: the integration guide's debug logging, the log file
// in the test's folder. DEBUG lines go to the file and, console_enabled,
// to standard error, and tell the decisions of a request and its poll.
func checkDebugLogging(t *testing.T, c guideCase) {
	templates := []map[string]any{guideTemplate("basic-template", 10, "t3.medium")}
	refusedAsFlat(t, guideEnv(t, sandbox.Options{}, "config.yml", c.Text, templates, "AWS_REGION=us-east-1"))
	logFile := filepath.Join(t.TempDir(), "debug.log")
	text := strings.Replace(c.Indented, "/var/log/hostfactory-plugin/debug.log", logFile, 1)
	e := guideEnv(t, sandbox.Options{}, "config.yml", text, templates, "AWS_REGION=us-east-1")
	res := e.call("requestMachines", hostfactory.Raw(`{"templateId": "basic-template", "maxNumber": 1}`))
	id := answer[map[string]any](t, res, 0)["requestId"].(string)
	poll := e.call("getRequestStatus", hostfactory.Raw(`{"requestId": "`+id+`"}`))
	answer[any](t, poll, 0)
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{string(res.Stderr) + string(poll.Stderr), string(b)} {
		if !strings.Contains(out, `"level":"DEBUG"`) {
			t.Errorf("no DEBUG line:\n%s", out)
		}
		for _, msg := range debugDecisions {
			if !strings.Contains(out, `"msg":"`+msg+`"`) {
				t.Errorf("no DEBUG %q line:\n%s", msg, out)
			}
		}
	}
}

// debugDecisions are the DEBUG lines a request and a poll write: the
// template chosen, the launch spec (without user data), each placement
// attempt, and each describe's counts.
var debugDecisions = []string{"template chosen", "launch spec", "placement attempt", "describe"}

// checkCaching: the integration guide's caching section is used (nothing
// reported unused), and the parsed config is cached in the work folder.
func checkCaching(t *testing.T, c guideCase) {
	templates := []map[string]any{guideTemplate("basic-template", 10, "t3.medium")}
	refusedAsFlat(t, guideEnv(t, sandbox.Options{}, "config.yml", c.Text, templates, "AWS_REGION=us-east-1"))
	e := guideEnv(t, sandbox.Options{}, "config.yml", c.Indented, templates, "AWS_REGION=us-east-1")
	returnAll(t, e, cycle(t, e, "basic-template", 1))
	if out, exit := e.strict(); exit != 0 {
		t.Errorf("templates validate --strict: exit %d\n%s", exit, out)
	}
	cached, _ := filepath.Glob(filepath.Join(e.root, "work", "*awsinst*"))
	if len(cached) == 0 {
		entries, _ := os.ReadDir(filepath.Join(e.root, "work"))
		t.Errorf("no cache of the parsed config in the work folder: %v", entries)
	}
}
