package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// operations counts DynamoDB operations by name as they pass a proxy.
type operations struct {
	mu    sync.Mutex
	calls map[string]int
}

func (o *operations) count(name string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls[name]
}

func (o *operations) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = map[string]int{}
}

// countingProxy stands between ohfp and the DynamoDB API at endpoint and
// counts the operations it forwards.
func countingProxy(t *testing.T, endpoint string) (string, *operations) {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ops := &operations{calls: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		ops.mu.Lock()
		ops.calls[op]++
		ops.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ops
}

// TestNoReadPathScans keeps the README's promise that DynamoDB is read
// through indexes, never scanned: every routine read path (the five
// operations' reads, the human listings with and without filters and
// pages, the dashboard's overview, a /metrics scrape, REST listings) runs
// against a proxy that counts Scan calls.
func TestNoReadPathScans(t *testing.T) {
	local, err := dynamoLocal()
	if err != nil {
		t.Fatal(err)
	}
	endpoint, ops := countingProxy(t, local)
	tables := dynamoTablesAt(t, endpoint)
	e := newEnv(t, sandbox.Options{PendingDelay: 100 * time.Millisecond, ShutdownDelay: 100 * time.Millisecond},
		[]map[string]any{template("T", 10, nil)}, tables)
	if out, errOut, exit := run(t, e.hf.Env, "store", "init"); exit != 0 {
		t.Fatalf("store init: exit %d\n%s%s", exit, out, errOut)
	}
	first := e.wait(e.request("T", 2))
	e.wait(e.request("T", 1))
	ret, err := e.hf.ReturnMachines(e.ctx(), hostfactory.Hosts(first.Machines[:1]))
	if err != nil {
		t.Fatal(err)
	}
	e.wait(ret)
	base := e.serve()
	ops.reset()

	reads := map[string]func(){
		"getAvailableTemplates": func() { e.call("getAvailableTemplates", map[string]any{}) },
		"getRequestStatus":      func() { e.wait(first.RequestID) },
		"getReturnRequests": func() {
			e.call("getReturnRequests", map[string]any{"machines": hostfactory.Hosts(first.Machines)})
		},
	}
	for _, args := range [][]string{
		{"requests", "list"},
		{"requests", "list", "--limit", "0"},
		{"requests", "list", "--kind", "return"},
		{"requests", "list", "--state", "complete"},
		{"requests", "list", "--template", "T"},
		{"requests", "list", "--limit", "1", "--page-token", pageToken(t, e)},
		{"requests", "show", first.RequestID},
		{"machines", "list"},
		{"machines", "list", "--all"},
		{"machines", "list", "--all", "--limit", "1"},
		{"machines", "list", "--all", "--template", "T"},
		{"events", "list"},
		{"templates", "list"},
	} {
		reads["ohfp "+strings.Join(args, " ")] = func() {
			if out, errOut, exit := run(t, e.hf.Env, args...); exit != 0 {
				t.Errorf("ohfp %v: exit %d\n%s%s", args, exit, out, errOut)
			}
		}
	}
	for _, path := range []string{"/api/v1/overview", "/api/v1/requests", "/api/v1/requests?limit=1",
		"/api/v1/machines", "/api/v1/machines?alive=false&template=T", "/api/v1/templates", "/api/v1/events",
		"/api/v1/requests/" + first.RequestID} {
		reads["GET "+path] = func() { rest(t, http.MethodGet, base+path, "", http.StatusOK, nil) }
	}
	reads["GET /metrics"] = func() { metrics(t, base) }
	for name, read := range reads {
		read()
		if n := ops.count("Scan"); n != 0 {
			t.Errorf("%s: %d Scan calls", name, n)
		}
		if ops.count("Query")+ops.count("BatchGetItem")+ops.count("GetItem") == 0 {
			t.Errorf("%s: read nothing from DynamoDB; is it reading the store?", name)
		}
		ops.reset()
	}
}

// pageToken is the token `requests list --limit 1` prints for its next page.
func pageToken(t *testing.T, e *env) string {
	t.Helper()
	_, errOut, exit := run(t, e.hf.Env, "requests", "list", "--limit", "1")
	_, token, ok := strings.Cut(strings.TrimSpace(errOut), "--page-token ")
	if exit != 0 || !ok {
		t.Fatalf("requests list --limit 1: exit %d, no page token in %q", exit, errOut)
	}
	return token
}
