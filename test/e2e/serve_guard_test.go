package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// guardedGrid starts a provider instance with two running hosts that
// HostFactory placed through the scripts, and `ohfp serve` beside it.
func guardedGrid(t *testing.T) (e *env, url string, stderr *syncBuffer, returns string) {
	e = newEnv(t, sandbox.Options{}, []map[string]any{template("web", 10, nil)}, nil)
	done := e.wait(e.request("web", 2))
	if done.Status != "complete" || len(done.Machines) != 2 {
		t.Fatalf("grid: %+v", done)
	}
	body, _ := json.Marshal(map[string]any{"machines": hostfactory.Hosts(done.Machines)})
	url, stderr = e.serveLogged()
	return e, url, stderr, string(body)
}

// untouched checks that the grid still runs its two hosts and nothing
// else, and that no operation ran but the scripts' own.
func untouched(t *testing.T, e *env) {
	t.Helper()
	running := 0
	for _, in := range e.sb.Instances() {
		if in.State != "running" {
			t.Errorf("instance %s is %s", in.ID, in.State)
		}
		running++
	}
	log, _ := os.ReadFile(filepath.Join(e.root, "log", "ohfp.log"))
	if running != 2 || strings.Count(string(log), `"operation":"requestMachines"`) != 1 || strings.Contains(string(log), `"operation":"requestReturnMachines"`) {
		t.Fatalf("%d instances running, want the grid's 2; log:\n%s", running, log)
	}
	t.Logf("hosts alive after the attempts: %d of 2; instances launched by them: %d", running, len(e.sb.Instances())-2)
}

// A client on the host (Go's, and curl), without the token or with it,
// cannot get a request through with a foreign Host, another origin or a text/plain
// body: nothing is launched or terminated.
func TestServeRefusesForeignRequestsFromClients(t *testing.T) {
	e, url, _, returns := guardedGrid(t)
	token, _ := serveTokens.Load(url)
	order := `{"template":{"templateId":"web","machineCount":3}}`
	cases := []struct {
		name, path, body string
		header           map[string]string
		want             int
	}{
		{"cross-origin POST", "/api/v1/requests", order, map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, 403},
		{"cross-origin return with the token", "/api/v1/returns", returns, map[string]string{"Origin": "http://evil.example", "Content-Type": "application/json", "Authorization": "Bearer " + token.(string)}, 403},
		{"foreign Host", "/api/v1/requests", order, map[string]string{"Host": "evil.example", "Content-Type": "application/json"}, 403},
		{"foreign Host with the token", "/api/v1/returns", returns, map[string]string{"Host": "evil.example:80", "Content-Type": "application/json", "Authorization": "Bearer " + token.(string)}, 403},
		{"text/plain body", "/api/v1/requests", order, map[string]string{"Content-Type": "text/plain"}, 415},
		{"text/plain return with the token", "/api/v1/returns", returns, map[string]string{"Content-Type": "text/plain", "Authorization": "Bearer " + token.(string)}, 415},
		{"no token", "/api/v1/returns", returns, map[string]string{"Content-Type": "application/json"}, 401},
	}
	refused := 0
	for _, c := range cases {
		req, err := http.NewRequest("POST", url+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"--silent", "--show-error", "--output", "/dev/null", "--write-out", "%{http_code}", "--data-binary", c.body}
		for k, v := range c.header {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
			args = append(args, "--header", k+": "+v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("%s: HTTP %d, want %d: %s", c.name, res.StatusCode, c.want, b)
		}
		// The same from curl, as a script on the host would send it.
		out, err := exec.Command("curl", append(args, url+c.path)...).CombinedOutput()
		if err != nil || string(out) != strconv.Itoa(c.want) {
			t.Errorf("%s from curl: HTTP %s, want %d (%v)", c.name, out, c.want, err)
		}
		refused += 2
	}
	// A rebound name cannot read the API either.
	req, _ := http.NewRequest("GET", url+"/api/v1/overview", nil)
	req.Host = "rebind.example"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Errorf("read through a foreign Host: HTTP %d", res.StatusCode)
	}
	t.Logf("refused: %d requests (%d cases, from Go and from curl)", refused, len(cases))
	untouched(t, e)
}

// A page of another origin open in a real browser on the host tries what a
// hostile page would: fetch and form POSTs to launch and to return the
// grid's hosts, and a read through a rebound host name. Every attempt
// reaches the server and is refused; nothing is launched or terminated.
func TestServeRefusesAForeignPageInChromium(t *testing.T) {
	e, url, stderr, returns := guardedGrid(t)
	order := `{"template":{"templateId":"web","machineCount":3}}`
	page := fmt.Sprintf(`<!doctype html><html><body><div id="out"></div>
<form id="f" method="POST" action="%[1]s/api/v1/returns" enctype="text/plain" target="sink">
<input name='{"machines":[], "x":"' value='"}'></form><iframe name="sink"></iframe>
<script>
const api = %[1]q, returns = %[2]q, order = %[3]q;
const out = document.getElementById("out");
const note = (s) => out.append(s + "; ");
(async () => {
  for (const [path, body] of [["/api/v1/requests", order], ["/api/v1/returns", returns]]) {
    try { await fetch(api + path, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body}); note("no-cors " + path + " sent"); }
    catch (e) { note("no-cors " + path + " failed"); }
    try { const r = await fetch(api + path, {method: "POST", headers: {"Content-Type": "application/json"}, body}); note("cors " + path + " answered " + r.status); }
    catch (e) { note("cors " + path + " blocked"); }
  }
  document.getElementById("f").submit();
  note("form sent");
})();
</script></body></html>`, url, returns, order)
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	}))
	t.Cleanup(foreign.Close)
	dom := chromium(t, foreign.URL+"/", "--dump-dom")
	if !strings.Contains(dom, "form sent") || strings.Contains(dom, "answered 2") {
		t.Fatalf("the foreign page did not run as planned, or was answered:\n%s", dom)
	}

	// DNS rebinding: a name the attacker controls resolves to loopback.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	rebound := chromium(t, "http://rebind.test:"+port+"/api/v1/overview", "--dump-dom", "--host-resolver-rules=MAP rebind.test 127.0.0.1")
	if !strings.Contains(rebound, "not one this server answers to") || strings.Contains(rebound, "awsinst") {
		t.Fatalf("a rebound host name read the API:\n%s", rebound)
	}

	// The server saw and refused each attempt: two no-cors fetches, the
	// form, and the read; the JSON fetches never left the browser without
	// a preflight, which the server does not answer.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(stderr.String(), "request refused") < 4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := strings.Count(stderr.String(), "request refused"); n < 4 {
		t.Fatalf("the server refused %d requests, want at least 4:\n%s", n, stderr.String())
	}
	t.Logf("refused by the server: %d requests", strings.Count(stderr.String(), "request refused"))
	untouched(t, e)
}
