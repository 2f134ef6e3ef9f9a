package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/hf"
)

// The REST answers are the scripts' answers, byte for byte.
func TestTemplatesAreTheScriptsAnswer(t *testing.T) {
	in := newInstance(t, "")
	status, got := in.do("GET", "/api/v1/templates", "")
	want, exit := app.RunHF(ctx(t), hf.OpGetAvailableTemplates, func() ([]byte, error) { return []byte("{}"), nil }, in.env)
	if status != http.StatusOK || exit != 0 {
		t.Fatalf("status %d, script exit %d: %s", status, exit, got)
	}
	if string(got) != string(want) {
		t.Fatalf("REST answer differs from the script's:\n%s\n%s", got, want)
	}
}

func TestRequestStatusReturnCycle(t *testing.T) {
	in := newInstance(t, "")
	var placed struct{ RequestID string }
	in.call("POST", "/api/v1/requests", `{"template":{"templateId":"small","machineCount":2}}`, http.StatusCreated, &placed)
	if !strings.HasPrefix(placed.RequestID, "req-") {
		t.Fatalf("request id %q", placed.RequestID)
	}
	st := in.waitStatus(placed.RequestID)
	r := st.Requests[0]
	if r.Status != "complete" || len(r.Machines) != 2 {
		t.Fatalf("request finished as %+v", r)
	}
	for _, m := range r.Machines {
		if m.Result != "succeed" || m.Status != "running" || m.Name == "" {
			t.Fatalf("machine %+v", m)
		}
	}

	// The same status through GET /api/v1/requests/{id}.
	var viaGet statusAnswer
	in.call("GET", "/api/v1/requests/"+placed.RequestID, "", http.StatusOK, &viaGet)
	if len(viaGet.Requests) != 1 || viaGet.Requests[0].Status != "complete" {
		t.Fatalf("GET /requests/{id}: %+v", viaGet)
	}

	var listed struct{ Requests []requestJSON }
	in.call("GET", "/api/v1/requests?template=small&state=complete&limit=5", "", http.StatusOK, &listed)
	if len(listed.Requests) != 1 || listed.Requests[0].RequestID != placed.RequestID || len(listed.Requests[0].Machines) != 2 {
		t.Fatalf("listing: %+v", listed)
	}
	var machines struct{ Machines []machineJSON }
	in.call("GET", "/api/v1/machines?template=small", "", http.StatusOK, &machines)
	if len(machines.Machines) != 2 || machines.Machines[0].Status != "running" || machines.Machines[0].RequestID != placed.RequestID {
		t.Fatalf("machines: %+v", machines)
	}

	refs := make([]map[string]string, len(r.Machines))
	for i, m := range r.Machines {
		refs[i] = map[string]string{"name": m.Name, "machineId": m.MachineID}
	}
	body, _ := json.Marshal(map[string]any{"machines": refs})
	var reclaims struct {
		Status   string
		Requests []any
	}
	in.call("POST", "/api/v1/reclaims", string(body), http.StatusOK, &reclaims)
	if reclaims.Status != "complete" || len(reclaims.Requests) != 0 {
		t.Fatalf("reclaims of running hosts: %+v", reclaims)
	}
	var returned struct{ RequestID string }
	in.call("POST", "/api/v1/returns", string(body), http.StatusCreated, &returned)
	if ret := in.waitStatus(returned.RequestID).Requests[0]; ret.Status != "complete" {
		t.Fatalf("return finished as %+v", ret)
	}
	in.call("GET", "/api/v1/machines?template=small", "", http.StatusOK, &machines)
	if len(machines.Machines) != 0 {
		t.Fatalf("alive machines after the return: %+v", machines)
	}
	in.call("GET", "/api/v1/requests?kind=return", "", http.StatusOK, &listed)
	if len(listed.Requests) != 1 || len(listed.Requests[0].Machines) != 2 || listed.Requests[0].Machines[0].ReturnID != returned.RequestID {
		t.Fatalf("return listing: %+v", listed)
	}

	var events struct{ Events []auditEventJSON }
	in.call("GET", "/api/v1/events?request="+placed.RequestID+"&since=1h&limit=3", "", http.StatusOK, &events)
	var actions []string
	for _, e := range events.Events {
		actions = append(actions, e.Action)
		if e.RequestID != placed.RequestID || !strings.Contains(e.Actor, " by ") || e.Time.IsZero() {
			t.Errorf("event %+v", e)
		}
	}
	if want := []string{"placement.retired", "machines.returned", "request.finished"}; !slices.Equal(actions, want) {
		t.Errorf("newest events of the request = %v, want %v", actions, want)
	}
}

func TestErrorStatuses(t *testing.T) {
	in := newInstance(t, "")
	in.call("POST", "/api/v1/requests", `{"template":{"templateId":"small","machineCount":2}}`, http.StatusCreated, nil)
	for _, c := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/api/v1/requests", `{"template":{"templateId":"nope","machineCount":1}}`, 404, "TEMPLATE_NOT_FOUND"},
		{"POST", "/api/v1/requests", `{"template":`, 400, "INVALID_REQUEST"},
		{"POST", "/api/v1/requests", `{"template":{"templateId":"small","machineCount":2}}`, 503, "QUOTA_EXCEEDED"},
		{"GET", "/api/v1/requests/bad%20id", "", 400, "INVALID_REQUEST"},
		{"GET", "/api/v1/requests?state=sleeping", "", 400, "INVALID_REQUEST"},
		{"GET", "/api/v1/requests?limit=-1", "", 400, "INVALID_REQUEST"},
		{"GET", "/api/v1/machines?alive=false", "", 400, "INVALID_REQUEST"},
		{"GET", "/api/v1/machines?alive=maybe", "", 400, "INVALID_REQUEST"},
		{"GET", "/api/v1/events?since=yesterday", "", 400, "INVALID_REQUEST"},
		{"GET", "/api/v1/events?limit=many", "", 400, "INVALID_REQUEST"},
	} {
		status, b := in.do(c.method, c.path, c.body)
		var env struct {
			Message string
			Error   struct{ Code string }
		}
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("%s %s: %v: %s", c.method, c.path, err, b)
		}
		if status != c.status || env.Error.Code != c.code || env.Message == "" {
			t.Errorf("%s %s %s: status %d code %s, want %d %s: %s", c.method, c.path, c.body, status, env.Error.Code, c.status, c.code, b)
		}
	}
	// An unknown request is answered as the script answers it.
	var st statusAnswer
	in.call("GET", "/api/v1/requests/req-unknown", "", http.StatusOK, &st)
	if len(st.Requests) != 1 || st.Requests[0].Status != "complete_with_error" {
		t.Fatalf("unknown request: %+v", st)
	}
}

// Reading a request that HostFactory has not asked about does not claim
// it: it stays placed, so that it is still recovered if HostFactory never
// got its id. HostFactory's own poll (POST /api/v1/status) claims it.
func TestReadingARequestDoesNotClaimIt(t *testing.T) {
	in := newInstance(t, "")
	var placed struct{ RequestID string }
	in.call("POST", "/api/v1/requests", `{"template":{"templateId":"small","machineCount":1}}`, http.StatusCreated, &placed)
	stateIs := func(want string) {
		t.Helper()
		var listed struct{ Requests []requestJSON }
		in.call("GET", "/api/v1/requests?state="+want, "", http.StatusOK, &listed)
		if len(listed.Requests) != 1 || listed.Requests[0].RequestID != placed.RequestID {
			t.Fatalf("request %s is not stored %s: %+v", placed.RequestID, want, listed)
		}
	}
	for range 2 {
		var st statusAnswer
		in.call("GET", "/api/v1/requests/"+placed.RequestID, "", http.StatusOK, &st)
		if len(st.Requests) != 1 || st.Requests[0].Status != "placed" || len(st.Requests[0].Machines) != 1 {
			t.Fatalf("GET /requests/{id}: %+v", st)
		}
		stateIs("placed")
	}
	var st statusAnswer
	in.call("POST", "/api/v1/status", fmt.Sprintf(`{"requests":[{"requestId":%q}]}`, placed.RequestID), http.StatusOK, &st)
	if st.Requests[0].Status == "placed" {
		t.Fatalf("POST /status: %+v", st)
	}
	if st.Requests[0].Status == "running" {
		stateIs("running")
	}
}

func TestHTTPStatusOfCloudErrors(t *testing.T) {
	for _, c := range []struct {
		code string
		want int
	}{{"CLOUD_ERROR", 502}, {"PROVISIONING_FAILED", 502}, {"QUOTA_EXCEEDED", 503}, {"INTERNAL_ERROR", 500}, {"CONFIGURATION_ERROR", 500}, {"REQUEST_NOT_FOUND", 404}, {"TEMPLATE_NOT_FOUND", 404}, {"INVALID_REQUEST", 400}} {
		if got := httpStatus(fault.Code(c.code)); got != c.want {
			t.Errorf("%s: %d, want %d", c.code, got, c.want)
		}
	}
}

func TestReadiness(t *testing.T) {
	in := newInstance(t, "")
	if status, b := in.do("GET", "/healthz", ""); status != 200 || string(b) != "ok\n" {
		t.Fatalf("/healthz: %d %s", status, b)
	}
	if status, b := in.do("GET", "/readyz", ""); status != 200 {
		t.Fatalf("/readyz: %d %s", status, b)
	}
	// A config file broken after the start makes the server not ready.
	conf := in.env("HF_PROVIDER_CONFDIR") + "/awsinstprov_config.json"
	if err := os.WriteFile(conf, []byte(`{"AWS_REGION": `), 0o644); err != nil {
		t.Fatal(err)
	}
	status, b := in.do("GET", "/readyz", "")
	if status != http.StatusServiceUnavailable || !strings.Contains(string(b), "CONFIGURATION_ERROR") {
		t.Fatalf("/readyz with a broken config: %d %s", status, b)
	}
	if status, _ := in.do("GET", "/healthz", ""); status != 200 {
		t.Fatalf("/healthz with a broken config: %d", status)
	}
}

func TestBearerToken(t *testing.T) {
	in := newInstance(t, "s3cret")
	in.token = ""
	for _, path := range []string{"/healthz", "/", "/assets/app.js"} {
		if status, b := in.do("GET", path, ""); status != 200 {
			t.Errorf("%s without a token: %d %s", path, status, b)
		}
	}
	for _, token := range []string{"", "wrong", "s3cret2", "s3cre"} {
		in.token = token
		for _, path := range []string{"/api/v1/templates", "/api/v1/overview", "/metrics", "/readyz", "/openapi.json"} {
			if status, _ := in.do("GET", path, ""); status != http.StatusUnauthorized {
				t.Errorf("%s with token %q: %d", path, token, status)
			}
		}
	}
	in.token = "s3cret"
	if status, b := in.do("GET", "/api/v1/templates", ""); status != 200 {
		t.Fatalf("with the token: %d %s", status, b)
	}
}

func TestLoadToken(t *testing.T) {
	env := func(k string) string { return map[string]string{TokenEnv: " from-env\n"}[k] }
	if tok, err := LoadToken("", env); err != nil || tok != "from-env" {
		t.Fatalf("from env: %q %v", tok, err)
	}
	file := t.TempDir() + "/token"
	os.WriteFile(file, []byte("from-file\n"), 0o600)
	if tok, err := LoadToken(file, env); err != nil || tok != "from-file" {
		t.Fatalf("from file: %q %v", tok, err)
	}
	os.WriteFile(file, []byte("\n"), 0o600)
	if _, err := LoadToken(file, env); err == nil {
		t.Fatal("an empty token file was accepted")
	}
	if _, err := LoadToken(file+".missing", env); err == nil {
		t.Fatal("a missing token file was accepted")
	}
}

// The OpenAPI document parses, and lists every route the mux serves and
// nothing else.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	in := newInstance(t, "")
	var doc struct {
		OpenAPI string                            `json:"openapi"`
		Paths   map[string]map[string]interface{} `json:"paths"`
	}
	in.call("GET", "/openapi.json", "", 200, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var served []string
	for _, rt := range in.srv.routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.TrimSuffix(path, "{$}")
		served = append(served, strings.ToLower(method)+" "+path)
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("%s is served but not in openapi.json", rt.pattern)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !slices.Contains(served, method+" "+path) {
				t.Errorf("openapi.json lists %s %s, which is not served", method, path)
			}
		}
	}
}

func TestDashboard(t *testing.T) {
	in := newInstance(t, "")
	for path, want := range map[string]string{"/": "text/html", "/assets/app.js": "javascript", "/assets/style.css": "text/css"} {
		res, err := in.http.Client().Get(in.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), want) {
			t.Errorf("%s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("Content-Security-Policy") != "frame-ancestors 'none'" {
			t.Errorf("%s may be framed by another page: %v", path, res.Header)
		}
	}
	if status, _ := in.do("GET", "/assets/nope.js", ""); status != 404 {
		t.Errorf("missing asset: %d", status)
	}

	var placed struct{ RequestID string }
	in.call("POST", "/api/v1/requests", `{"template":{"templateId":"big","machineCount":3}}`, http.StatusCreated, &placed)
	in.call("POST", "/api/v1/requests", `{"template":{"templateId":"nope","machineCount":1}}`, http.StatusNotFound, nil)
	in.appendLog(`{"time":"2026-11-23T10:00:00Z","level":"INFO","msg":"reclaim","request_id":"req-x","instance_id":"i-0123456789abcdef0","name":"ip-10-0-0-9.ec2.internal","grace_period":0}`)
	var ov struct {
		Provider  string
		Templates []templateUsage
		Requests  []requestJSON
		Errors    []Event
		Reclaims  []Event
	}
	in.call("GET", "/api/v1/overview", "", 200, &ov)
	if ov.Provider != "awsinst" || len(ov.Templates) != 2 || ov.Templates[1] != (templateUsage{"big", 10, 3}) {
		t.Fatalf("overview templates: %+v", ov)
	}
	if len(ov.Requests) != 1 || ov.Requests[0].RequestID != placed.RequestID || len(ov.Requests[0].Machines) != 3 {
		t.Fatalf("overview requests: %+v", ov.Requests)
	}
	if len(ov.Errors) != 1 || ov.Errors[0].Status != "TEMPLATE_NOT_FOUND" || ov.Errors[0].Operation != hf.OpRequestMachines || ov.Errors[0].Message == "" {
		t.Fatalf("overview errors: %+v", ov.Errors)
	}
	if len(ov.Reclaims) != 1 || ov.Reclaims[0].MachineID != "i-0123456789abcdef0" || ov.Reclaims[0].Name != "ip-10-0-0-9.ec2.internal" || ov.Reclaims[0].Grace == nil {
		t.Fatalf("overview reclaims: %+v", ov.Reclaims)
	}
}
