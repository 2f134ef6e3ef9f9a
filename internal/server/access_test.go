package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/access"
)

// routeInputs are the bodies and path values a route is called with in
// the table below: valid enough to reach the handler.
var routeInputs = map[string]string{
	"POST /api/v1/requests": `{"template":{"templateId":"small","machineCount":1}}`,
	"POST /api/v1/status":   `{"requests":[{"requestId":"req-unknown"}]}`,
	"POST /api/v1/returns":  `{"machines":[{"name":"ip-10-0-0-1.ec2.internal"}]}`,
	"POST /api/v1/reclaims": `{"machines":[]}`,
}

// concrete turns a route pattern into a method and a path to call.
func concrete(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.NewReplacer("{$}", "", "{id}", "req-unknown", "{file}", "app.js").Replace(path)
	return method, path
}

// withTokens gives each role a token (the operator granted template small
// only) and returns them.
func (in *instance) withTokens() map[access.Role]string {
	in.t.Helper()
	file := filepath.Join(in.root, "work", access.TokensFileName)
	out := map[access.Role]string{}
	for _, r := range access.Roles {
		var grants []string
		if r == access.Operator {
			grants = []string{"sm*"}
		}
		tok, err := access.AddToken(file, "p-"+string(r), r, grants, time.Now())
		if err != nil {
			in.t.Fatal(err)
		}
		out[r] = tok
	}
	return out
}

// TestEveryRouteHasARuleForEveryRole calls every route with a token of
// every role: a route whose role falls short answers 403, every other
// one does not. A route added without an access rule fails here.
func TestEveryRouteHasARuleForEveryRole(t *testing.T) {
	in := newInstance(t, "")
	tokens := in.withTokens()
	for _, rt := range in.srv.routes() {
		if rt.open {
			continue
		}
		if rt.action == "" || rt.action.Needs() == access.None {
			t.Errorf("route %s has no access rule", rt.pattern)
			continue
		}
		method, path := concrete(rt.pattern)
		for _, role := range access.Roles {
			in.token = tokens[role]
			status, body := in.do(method, path, routeInputs[rt.pattern])
			may := access.Principal{Role: role, Templates: []string{"*"}}.Allow(rt.action) == nil
			if denied := status == http.StatusForbidden; denied == may {
				t.Errorf("%s as %s: status %d (%s), want it %s", rt.pattern, role, status, strings.TrimSpace(string(body)), map[bool]string{true: "allowed", false: "denied"}[may])
			}
		}
	}
}

func TestOperatorOnlyOnItsTemplates(t *testing.T) {
	in := newInstance(t, "")
	tokens := in.withTokens()
	in.token = tokens[access.Operator]
	status, body := in.do("POST", "/api/v1/requests", `{"template":{"templateId":"big","machineCount":1}}`)
	var out struct {
		Error struct {
			Code    string
			Message string
			Details map[string]any
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%d %s", status, body)
	}
	if status != http.StatusForbidden || out.Error.Code != "PERMISSION_DENIED" || out.Error.Details["missing_grant"] != "big" ||
		!strings.Contains(out.Error.Message, "p-operator (token) may not request: it needs a grant on template 'big'") {
		t.Fatalf("operator on big: %d %s", status, body)
	}
	if n := len(in.sb.Instances()); n != 0 {
		t.Errorf("%d instances launched by a denied request", n)
	}
	if status, body := in.do("POST", "/api/v1/requests", routeInputs["POST /api/v1/requests"]); status != http.StatusCreated {
		t.Fatalf("operator on small: %d %s", status, body)
	}
	// The viewer is refused before anything runs; both refusals are in the
	// audit trail with the principal.
	in.token = tokens[access.Viewer]
	if status, _ := in.do("POST", "/api/v1/requests", routeInputs["POST /api/v1/requests"]); status != http.StatusForbidden {
		t.Fatalf("viewer requested: %d", status)
	}
	in.token = tokens[access.Admin]
	status, body = in.do("GET", "/api/v1/events?limit=0", "")
	var events struct {
		Events []struct{ Action, Actor, Detail string }
	}
	if err := json.Unmarshal(body, &events); err != nil || status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var denials []string
	for _, e := range events.Events {
		if e.Action == "access.denied" {
			denials = append(denials, e.Detail)
		}
	}
	if len(denials) != 2 || !strings.Contains(denials[0], "p-viewer") || !strings.Contains(denials[1], "p-operator") {
		t.Errorf("denials in the audit trail: %q", denials)
	}
}

func TestRevokedTokenAndNoTokenLogged(t *testing.T) {
	in := newInstance(t, "")
	tokens := in.withTokens()
	in.token = tokens[access.Viewer]
	if status, _ := in.do("GET", "/api/v1/templates", ""); status != 200 {
		t.Fatalf("viewer: %d", status)
	}
	// With principals defined, a read needs a token too.
	in.token = ""
	if status, _ := in.do("GET", "/api/v1/templates", ""); status != http.StatusUnauthorized {
		t.Errorf("no token with a tokens file: %d, want 401", status)
	}
	if err := access.RevokeToken(filepath.Join(in.root, "work", access.TokensFileName), "p-viewer"); err != nil {
		t.Fatal(err)
	}
	in.token = tokens[access.Viewer]
	if status, _ := in.do("GET", "/api/v1/templates", ""); status != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", status)
	}
	raw, err := os.ReadFile(filepath.Join(in.root, "work", access.TokensFileName))
	if err != nil {
		t.Fatal(err)
	}
	logged, _ := os.ReadFile(in.logFile())
	for role, tok := range tokens {
		if strings.Contains(string(raw), tok) || strings.Contains(string(logged), tok) {
			t.Errorf("the %s token is in the tokens file or the log", role)
		}
	}
	var ts struct{ Tokens []access.Token }
	if json.Unmarshal(raw, &ts) != nil || len(ts.Tokens) != 2 {
		t.Errorf("tokens file after a revocation: %s", raw)
	}
}

// TestNoTokenStillNeedsPrincipalsTokens: --no-token lets anyone in only
// while no principal has a token; once one has, every route but the open
// ones needs a token, as with the server's own, and an empty bearer never
// passes for the server's own token, which --no-token leaves empty.
func TestNoTokenStillNeedsPrincipalsTokens(t *testing.T) {
	in := newInstanceWith(t, Options{NoToken: true})
	if status, body := in.do("POST", "/api/v1/requests", routeInputs["POST /api/v1/requests"]); status != http.StatusCreated {
		t.Fatalf("--no-token without principals: %d %s", status, body)
	}
	tokens := in.withTokens()
	for _, c := range []struct {
		method, path, auth string
		want               int
	}{
		{"POST", "/api/v1/requests", "", http.StatusUnauthorized},
		{"GET", "/api/v1/templates", "", http.StatusUnauthorized},
		{"POST", "/api/v1/requests", "Bearer ", http.StatusUnauthorized},
		{"POST", "/api/v1/requests", "Bearer " + tokens[access.Viewer], http.StatusForbidden},
		{"POST", "/api/v1/requests", "Bearer " + tokens[access.Operator], http.StatusCreated},
		{"GET", "/healthz", "", http.StatusOK},
	} {
		req := httptest.NewRequest(c.method, "http://127.0.0.1"+c.path, strings.NewReader(routeInputs[c.method+" "+c.path]))
		req.Header.Set("Content-Type", "application/json")
		if c.auth != "" {
			req.Header["Authorization"] = []string{c.auth}
		}
		w := httptest.NewRecorder()
		in.srv.ServeHTTP(w, req)
		if w.Code != c.want {
			t.Errorf("%s %s with %q: %d %s, want %d", c.method, c.path, c.auth, w.Code, strings.TrimSpace(w.Body.String()), c.want)
		}
	}
}
