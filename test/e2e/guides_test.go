package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// guideCase is one example of the OHFP guides as checked in: its name, its
// text as the guide gives it and, for YAML, the nesting the guide's text
// lost (the same lines, indented).
type guideCase struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Text     string `json:"text"`
	Indented string `json:"indented,omitempty"`
}

// guideCases reads the checked-in examples; TestGuideExamplesAreTheGuides
// checks that they are the guides' own.
func guideCases(t *testing.T) []guideCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "guides", "examples.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cs []guideCase
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Indented == "" {
			continue
		}
		var flat []string
		for _, l := range strings.Split(c.Indented, "\n") {
			flat = append(flat, strings.TrimLeft(l, " "))
		}
		if strings.Join(flat, "\n") != c.Text {
			t.Fatalf("%s: the indented text is not the guide's text indented", c.Name)
		}
	}
	return cs
}

// guideFiles are the two OHFP guides, in the order of the checked-in
// examples.
var guideFiles = []string{"hostfactory-integration-guide.txt", "hostfactory-requirements-compliance.txt"}

// TestGuideExamplesAreTheGuides extracts the JSON and YAML examples from
// the two OHFP guides and checks that they are, in order and verbatim, the
// examples TestGuideExamples runs. The guides live outside the repository:
// OHFP_GUIDES_DIR, else ../shared/seeds beside the checkout.
func TestGuideExamplesAreTheGuides(t *testing.T) {
	dir := os.Getenv("OHFP_GUIDES_DIR")
	if dir == "" {
		_, here, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(here), "..", "..", "..", "shared", "seeds")
	}
	var got []guideExample
	for _, f := range guideFiles {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if os.IsNotExist(err) {
			t.Skipf("the OHFP guides are not in %s: set OHFP_GUIDES_DIR", dir)
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, guideExamples(string(b))...)
	}
	cs := guideCases(t)
	for i := range max(len(got), len(cs)) {
		switch {
		case i >= len(got):
			t.Errorf("%s is no longer in the guides", cs[i].Name)
		case i >= len(cs):
			t.Errorf("example %d of the guides is not checked in:\n%s", i, got[i].Text)
		case got[i].Kind != cs[i].Kind || got[i].Text != cs[i].Text:
			t.Errorf("%s differs from the guides' example %d:\n%s", cs[i].Name, i, got[i].Text)
		}
	}
}

// TestGuideExamples feeds every JSON and YAML example of the two OHFP
// guides, verbatim, to the binary through the scripts, and checks the
// outcome: inputs are accepted, configurations load and run (the three
// deployment scenarios on SQLite and on DynamoDB), outputs match ours
// where the IBM contract allows and differ only as listed, and what cannot
// work as written is refused loudly. The guides' health check runs too.
func TestGuideExamples(t *testing.T) {
	checks := map[string]func(*testing.T, guideCase){
		"integration/templates-output":             checkTemplatesOutput,
		"integration/request-input":                checkRequestInput,
		"integration/request-output":               checkRequestOutput,
		"integration/return-output":                checkReturnOutput,
		"integration/status-output":                checkStatusOutput,
		"integration/scenario1-config":             checkScenario1,
		"integration/scenario2-us-east-1":          checkScenario2,
		"integration/scenario2-us-west-2":          checkScenario2,
		"integration/scenario3-production":         checkScenario3,
		"integration/iam-policy":                   checkIAMPolicy,
		"integration/secure-template":              checkSecureTemplate,
		"integration/debug-logging":                checkDebugLogging,
		"integration/error-output":                 checkErrorOutput,
		"integration/caching":                      checkCaching,
		"requirements/templates-output":            checkTemplatesOutput,
		"requirements/templates-attributes-output": checkTemplatesOutput,
		"requirements/request-input":               checkRequestInput,
		"requirements/request-output":              checkRequestOutput,
		"requirements/return-input":                checkReturnInput,
		"requirements/return-output":               checkReturnOutput,
		"requirements/status-input":                checkStatusInput,
		"requirements/status-output":               checkStatusOutput,
		"requirements/error-output":                checkErrorOutput,
		"requirements/hostfactory-settings":        checkHostFactorySettings,
		"requirements/log-line":                    checkLogLine,
	}
	cs := guideCases(t)
	for _, c := range cs {
		check, ok := checks[c.Name]
		if !ok {
			t.Errorf("%s: no check", c.Name)
			continue
		}
		t.Run(c.Name, func(t *testing.T) { check(t, c) })
	}
	t.Run("integration/health-check", checkHealthCheck)
	if len(checks) != len(cs) {
		t.Errorf("%d checks for %d examples", len(checks), len(cs))
	}
}

// The guides' resources, which the sandbox is given.
var guideResources = sandbox.Resources{
	Images:         []sandbox.Image{{ID: "ami-0abcdef1234567890"}},
	Subnets:        []sandbox.Subnet{{ID: "subnet-abcdef12", CIDR: "10.0.1.0/24"}},
	SecurityGroups: []string{"sg-12345678", "sg-87654321"},
}

// guideTemplate is a template of the guides' examples, on the sandbox's
// resources, with the instance type the guide gives.
func guideTemplate(id string, maxNumber int, vmType string) map[string]any {
	return template(id, maxNumber, map[string]any{"vmType": vmType})
}

// guideEnv is a provider instance whose config is a file of the guides:
// name in its conf folder, the YAML or JSON text, read through
// HF_CONFIG_PATH. templates (IBM's templates file) may be nil when the
// config embeds them. The AWS endpoints come from the environment, as the
// guides' files name none.
func guideEnv(t *testing.T, opts sandbox.Options, name, text string, templates []map[string]any, vars ...string) *env {
	t.Helper()
	e := newEnv(t, opts, templates, nil)
	if _, err := e.sb.Provide(guideResources); err != nil {
		t.Fatal(err)
	}
	e.useConfig(name, text, templates != nil, vars...)
	return e
}

// useConfig makes the guides' file name, with text, the provider
// instance's config.
func (e *env) useConfig(name, text string, keepTemplates bool, vars ...string) {
	e.t.Helper()
	path := e.confFile(name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
	os.Remove(e.confFile("awsinstprov_config.json"))
	if !keepTemplates {
		os.Remove(e.confFile("awsinstprov_templates.json"))
	}
	e.hf.Env = append(e.hf.Env, "HF_CONFIG_PATH="+path, "AWS_ENDPOINT_URL="+e.url)
	e.hf.Env = append(e.hf.Env, vars...)
}

// guideDynamoDB is the environment that points the DynamoDB store at
// DynamoDB Local, and deletes the tables of the guides' prefixes, which
// are fixed, before and after the test.
func guideDynamoDB(t *testing.T, prefixes ...string) string {
	t.Helper()
	endpoint, err := dynamoLocal()
	if err != nil {
		t.Fatal(err)
	}
	drop := func() {
		db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: localCredentials})
		for _, p := range prefixes {
			for _, suffix := range []string{"-requests", "-machines", "-facts", "-events"} {
				db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(p + suffix)})
			}
		}
	}
	drop()
	t.Cleanup(drop)
	return "AWS_ENDPOINT_URL_DYNAMODB=" + endpoint
}

// answer decodes a script's answer, failing unless it exited with exit.
func answer[T any](t *testing.T, res hostfactory.Result, exit int) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(res.Stdout, &v); err != nil || res.Exit != exit {
		t.Fatalf("%s: exit %d (want %d), %v:\n%s\n%s", res.Op, res.Exit, exit, err, res.Stdout, res.Stderr)
	}
	return v
}

// within lists where want is not part of got: an object's keys with their
// values, an array's elements in order.
func within(want, got any, path string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path + ": not an object"}
		}
		var out []string
		for k, v := range w {
			gv, ok := g[k]
			if !ok {
				out = append(out, path+"."+k+": missing")
				continue
			}
			out = append(out, within(v, gv, path+"."+k)...)
		}
		slices.Sort(out)
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) < len(w) {
			return []string{path + ": not an array of " + string(rune('0'+min(len(w), 9))) + " or more"}
		}
		var out []string
		for i := range w {
			out = append(out, within(w[i], g[i], path+"["+string(rune('0'+min(i, 9)))+"]")...)
		}
		return out
	default:
		if want != got {
			b, _ := json.Marshal(got)
			return []string{path + ": " + string(b)}
		}
		return nil
	}
}

func decodeAny(t *testing.T, text string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("the guide's JSON does not parse: %v\n%s", err, text)
	}
	return v
}

// checkHealthCheck: the integration guide's health check runs
// getAvailableTemplates.sh with no input file at all.
func checkHealthCheck(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{guideTemplate("basic-template", 10, "t3.medium")}, nil)
	out, stderr, exit := script(t, e.hf.Env, checkout(t, true), "getAvailableTemplates")
	var got any
	if err := json.Unmarshal([]byte(out), &got); err != nil || exit != 0 {
		t.Fatalf("exit %d, %v:\n%s\n%s", exit, err, out, stderr)
	}
	if miss := within(map[string]any{"templates": []any{map[string]any{"templateId": "basic-template"}}}, got, ""); miss != nil {
		t.Errorf("%v", miss)
	}
}

// checkTemplatesOutput: getAvailableTemplates answers what the guide shows
// for the templates it describes. The requirements guide's instanceType
// key is not in IBM's answer, which gives vmType.
func checkTemplatesOutput(t *testing.T, c guideCase) {
	want := decodeAny(t, c.Text).(map[string]any)
	var templates []map[string]any
	for _, x := range want["templates"].([]any) {
		tm := x.(map[string]any)
		vm := "t3.medium"
		if it, ok := tm["instanceType"].(string); ok {
			vm = it
			delete(tm, "instanceType")
			tm["vmType"] = it
		}
		templates = append(templates, guideTemplate(tm["templateId"].(string), int(tm["maxNumber"].(float64)), vm))
	}
	e := newEnv(t, sandbox.Options{}, templates, nil)
	got := answer[any](t, e.call("getAvailableTemplates", hostfactory.Raw("{}")), 0)
	if miss := within(want, got, ""); miss != nil {
		t.Errorf("the answer lacks what the guide shows: %v", miss)
	}
}

// requestInputEnv is a provider instance with the guides' basic-template,
// given the example's input file verbatim.
func requestInputEnv(t *testing.T, text string) (*env, string) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{guideTemplate("basic-template", 10, "t3.medium")}, nil)
	got := answer[map[string]any](t, e.call("requestMachines", hostfactory.Raw(text)), 0)
	id, _ := got["requestId"].(string)
	if !strings.HasPrefix(id, "req-") {
		t.Fatalf("requestMachines answered %v", got)
	}
	return e, id
}

// checkRequestInput: the guides' requestMachines input launches maxNumber
// machines, tagged with the request's attributes.
func checkRequestInput(t *testing.T, c guideCase) {
	in := decodeAny(t, c.Text).(map[string]any)
	e, id := requestInputEnv(t, c.Text)
	r := e.wait(id)
	if len(r.Machines) != int(in["maxNumber"].(float64)) || r.Status != "complete" {
		t.Fatalf("request %s: %s with %d machines", id, r.Status, len(r.Machines))
	}
	attrs, _ := in["attributes"].(map[string]any)
	for _, inst := range e.instancesOf(id) {
		for k, v := range attrs {
			if inst.Tags[k] != v {
				t.Errorf("instance %s: tag %s = %q, want %q", inst.ID, k, inst.Tags[k], v)
			}
		}
	}
}

// checkRequestOutput: IBM's requestMachines answer carries the request id
// and no machines (HostFactory polls for them); the guide's machines, with
// their status, come from getRequestStatus.
func checkRequestOutput(t *testing.T, c guideCase) {
	want := decodeAny(t, c.Text).(map[string]any)
	e, id := requestInputEnv(t, `{"templateId": "basic-template", "maxNumber": 1}`)
	st := answer[map[string]any](t, e.call("getRequestStatus", hostfactory.Raw(`{"requestId": "`+id+`"}`)), 0)
	got := st["requests"].([]any)[0].(map[string]any)
	wm := want["machines"].([]any)[0].(map[string]any)
	gm := got["machines"].([]any)[0].(map[string]any)
	if !strings.HasPrefix(gm["machineId"].(string), "i-") || !slices.Contains([]string{"pending", "running"}, gm["status"].(string)) {
		t.Errorf("machine %v", gm)
	}
	for k := range wm {
		if _, ok := gm[k]; !ok && k != "attributes" {
			t.Errorf("machine key %s of the guide is missing", k)
		}
	}
}

// checkStatusInput: the requirements guide's getRequestStatus input; its
// id, req-12345, is nobody's request and is answered as such, and with a
// real id the request's status comes back.
func checkStatusInput(t *testing.T, c guideCase) {
	e, id := requestInputEnv(t, `{"templateId": "basic-template", "maxNumber": 1}`)
	got := answer[map[string]any](t, e.call("getRequestStatus", hostfactory.Raw(c.Text)), 0)
	r := got["requests"].([]any)[0].(map[string]any)
	if r["requestId"] != "req-12345" || r["status"] != "complete_with_error" || !strings.Contains(r["message"].(string), "not found") {
		t.Errorf("unknown request answered %v", r)
	}
	got = answer[map[string]any](t, e.call("getRequestStatus", hostfactory.Raw(strings.Replace(c.Text, "req-12345", id, 1))), 0)
	if r := got["requests"].([]any)[0].(map[string]any); r["requestId"] != id || len(r["machines"].([]any)) != 1 {
		t.Errorf("request %s answered %v", id, r)
	}
}

// checkStatusOutput: what the guide shows of a finished request is in
// IBM's answer under IBM's names: requests[0] is the guide's top level,
// complete its completed, privateIpAddress its ipAddress.
func checkStatusOutput(t *testing.T, c guideCase) {
	want := decodeAny(t, c.Text).(map[string]any)
	e, id := requestInputEnv(t, `{"templateId": "basic-template", "maxNumber": 1}`)
	e.wait(id)
	st := answer[map[string]any](t, e.call("getRequestStatus", hostfactory.Raw(`{"requestId": "`+id+`"}`)), 0)
	got := st["requests"].([]any)[0].(map[string]any)
	names := map[string]string{"ipAddress": "privateIpAddress"}
	values := map[any]any{"completed": "complete", "req-12345": id}
	if got["status"] != values[want["status"]] || got["requestId"] != id {
		t.Errorf("request %v", got)
	}
	wm := want["machines"].([]any)[0].(map[string]any)
	gm := got["machines"].([]any)[0].(map[string]any)
	for k, v := range wm {
		key := cmpOr(names[k], k)
		switch gv, ok := gm[key]; {
		case k == "attributes": // IBM's answer gives them per template, not per machine
		case !ok:
			t.Errorf("machine: no %s (the guide's %s)", key, k)
		case k == "status" && gv != v:
			t.Errorf("machine status %v, want %v", gv, v)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checkReturnInput: the requirements guide's requestReturnMachines input
// returns every live machine of the request; its own id, req-12345, is
// nobody's request and is refused as such.
func checkReturnInput(t *testing.T, c guideCase) {
	e, id := requestInputEnv(t, `{"templateId": "basic-template", "maxNumber": 2}`)
	e.wait(id)
	if f := e.failure("requestReturnMachines", hostfactory.Raw(c.Text), 2); f.Error.Code != "REQUEST_NOT_FOUND" {
		t.Errorf("req-12345: %v", f)
	}
	got := answer[map[string]any](t, e.call("requestReturnMachines", hostfactory.Raw(strings.Replace(c.Text, "req-12345", id, 1))), 0)
	ret, _ := got["requestId"].(string)
	if !strings.HasPrefix(ret, "ret-") {
		t.Fatalf("answered %v", got)
	}
	for _, inst := range e.instancesOf(id) {
		if inst.State == "running" || inst.State == "pending" {
			t.Errorf("instance %s is still %s", inst.ID, inst.State)
		}
	}
}

// checkReturnOutput: IBM's requestReturnMachines answer carries the
// return request's id; the guide's machines, terminating, come from
// getRequestStatus of that id.
func checkReturnOutput(t *testing.T, c guideCase) {
	want := decodeAny(t, c.Text).(map[string]any)
	e, id := requestInputEnv(t, `{"templateId": "basic-template", "maxNumber": 1}`)
	e.wait(id)
	got := answer[map[string]any](t, e.call("requestReturnMachines", hostfactory.Raw(`{"requestId": "`+id+`"}`)), 0)
	ret := got["requestId"].(string)
	st := answer[map[string]any](t, e.call("getRequestStatus", hostfactory.Raw(`{"requestId": "`+ret+`"}`)), 0)
	r := st["requests"].([]any)[0].(map[string]any)
	ms := r["machines"].([]any)
	if len(ms) != len(want["machines"].([]any)) {
		t.Fatalf("return %s: %v", ret, r)
	}
	if m := ms[0].(map[string]any); !strings.HasPrefix(m["machineId"].(string), "i-") {
		t.Errorf("machine %v", m)
	}
}

// checkErrorOutput: an unknown template is answered exactly as the guides
// show, beside IBM's message.
func checkErrorOutput(t *testing.T, c guideCase) {
	want := decodeAny(t, c.Text).(map[string]any)
	var templates []map[string]any
	for _, id := range want["error"].(map[string]any)["details"].(map[string]any)["available_templates"].([]any) {
		templates = append(templates, guideTemplate(id.(string), 5, "t3.medium"))
	}
	e := newEnv(t, sandbox.Options{}, templates, nil)
	got := answer[any](t, e.call("requestMachines", hostfactory.Raw(`{"templateId": "invalid-template", "maxNumber": 1}`)), 2)
	if miss := within(want, got, ""); miss != nil {
		t.Errorf("the error lacks what the guide shows: %v", miss)
	}
}

// settingsWarnings are the "configuration setting not used" lines the
// provider instance logged, in its log folder and on standard error.
func settingsWarnings(e *env, res hostfactory.Result) []string {
	text := string(res.Stderr)
	logs, _ := filepath.Glob(filepath.Join(e.root, "log", "*"))
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		text += string(b)
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "configuration setting not used") {
			out = append(out, sc.Text())
		}
	}
	return out
}

// strict runs `ohfp templates validate --strict` for the provider instance.
func (e *env) strict() (string, int) {
	out, stderr, exit := run(e.t, e.hf.Env, "templates", "validate", "--strict")
	return out + stderr, exit
}

// checkHostFactorySettings: the requirements guide's hostfactory section,
// as the whole config file, is used key by key: nothing is reported
// unused, and legacy_mode makes the human CLI speak camelCase.
func checkHostFactorySettings(t *testing.T, c guideCase) {
	e := guideEnv(t, sandbox.Options{}, "config.json", c.Text, []map[string]any{guideTemplate("basic-template", 10, "t3.medium")}, "AWS_REGION=us-east-1")
	res := e.call("getAvailableTemplates", hostfactory.Raw("{}"))
	answer[any](t, res, 0)
	if w := settingsWarnings(e, res); w != nil {
		t.Errorf("settings reported unused: %v", w)
	}
	if out, exit := e.strict(); exit != 0 {
		t.Errorf("templates validate --strict: exit %d\n%s", exit, out)
	}
	out, stderr, exit := run(t, e.hf.Env, "templates", "list")
	if exit != 0 || !strings.Contains(out, `"templateId"`) || strings.Contains(out, `"template_id"`) {
		t.Errorf("templates list with legacy_mode: exit %d\n%s%s", exit, out, stderr)
	}
}

// checkLogLine: an operation's log line has every key of the guide's, with
// the same JSON types, and its timestamp is RFC 3339 in UTC.
func checkLogLine(t *testing.T, c guideCase) {
	want := decodeAny(t, c.Text).(map[string]any)
	e, id := requestInputEnv(t, `{"templateId": "basic-template", "maxNumber": 5}`)
	logs, _ := filepath.Glob(filepath.Join(e.root, "log", "*ohfp.log*"))
	if len(logs) != 1 {
		t.Fatalf("log files %v", logs)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	for _, l := range strings.Split(string(b), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["operation"] == "requestMachines" && m["request_id"] == id {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no requestMachines line for %s in:\n%s", id, b)
	}
	for k, v := range want {
		gv, ok := line[k]
		switch {
		case !ok:
			t.Errorf("no %s", k)
		case k == "timestamp":
			ts, err := time.Parse(time.RFC3339, gv.(string))
			if err != nil || !strings.HasSuffix(gv.(string), "Z") || ts.IsZero() {
				t.Errorf("timestamp %v", gv)
			}
		case k == "duration_ms" || k == "request_id":
			if _, same := gv.(float64); k == "duration_ms" && !same {
				t.Errorf("%s = %v", k, gv)
			}
		case gv != v:
			t.Errorf("%s = %v, want %v", k, gv, v)
		}
	}
}

// checkIAMPolicy: the integration guide's policy lacks actions the store
// calls; `ohfp iam-policy` prints them, and the docs say so.
func checkIAMPolicy(t *testing.T, c guideCase) {
	var guide struct {
		Statement []struct {
			Action []string
		}
	}
	if err := json.Unmarshal([]byte(c.Text), &guide); err != nil {
		t.Fatal(err)
	}
	var granted []string
	for _, s := range guide.Statement {
		granted = append(granted, s.Action...)
	}
	e := newEnv(t, sandbox.Options{}, []map[string]any{guideTemplate("basic-template", 10, "t3.medium")}, map[string]any{"OHFP_STORAGE": "dynamodb", "OHFP_DYNAMODB_TABLE_PREFIX": "hostfactory"})
	out, stderr, exit := run(t, e.hf.Env, "iam-policy")
	if exit != 0 {
		t.Fatalf("iam-policy: exit %d\n%s", exit, stderr)
	}
	var missing []string
	for _, a := range regexp.MustCompile(`"(dynamodb:[A-Za-z]+)"`).FindAllStringSubmatch(out, -1) {
		if !slices.Contains(granted, a[1]) && !slices.Contains(missing, a[1]) {
			missing = append(missing, a[1])
		}
	}
	for _, need := range []string{"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"} {
		if !slices.Contains(missing, need) {
			t.Errorf("iam-policy does not print %s, which the guide's policy lacks:\n%s", need, out)
		}
	}
	t.Logf("the guide's policy lacks %v", missing)
}
