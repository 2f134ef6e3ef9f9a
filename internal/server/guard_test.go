package server

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

// A web page in a browser on the host cannot drive the API: a foreign
// Host (DNS rebinding), another origin, a body that is not JSON, or a
// mutation without the token is refused before anything runs.
func TestForeignRequestsAreRefused(t *testing.T) {
	in := newInstance(t, "")
	const order = `{"template":{"templateId":"big","machineCount":2}}`
	cases := []struct {
		name, method, path, body string
		header                   map[string]string
		want                     int
	}{
		{"text/plain body", "POST", "/api/v1/requests", order, map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
		{"form body", "POST", "/api/v1/requests", order, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"no content type", "POST", "/api/v1/requests", order, map[string]string{"Content-Type": ""}, http.StatusUnsupportedMediaType},
		{"cross-site fetch", "POST", "/api/v1/requests", order, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, http.StatusForbidden},
		{"same-site fetch from another port", "POST", "/api/v1/requests", order, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"}, http.StatusForbidden},
		{"foreign origin without fetch metadata", "POST", "/api/v1/requests", order, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"foreign host", "POST", "/api/v1/requests", order, map[string]string{"Host": "evil.example"}, http.StatusForbidden},
		{"foreign host reading", "GET", "/api/v1/overview", "", map[string]string{"Host": "evil.example:8080"}, http.StatusForbidden},
		{"foreign host reading metrics", "GET", "/metrics", "", map[string]string{"Host": "rebound.example"}, http.StatusForbidden},
		{"cross-site read", "GET", "/api/v1/overview", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"no token", "POST", "/api/v1/requests", order, map[string]string{"Authorization": ""}, http.StatusUnauthorized},
		{"wrong token", "POST", "/api/v1/requests", order, map[string]string{"Authorization": "Bearer nope"}, http.StatusUnauthorized},
		{"return without token", "POST", "/api/v1/returns", `{"machines":[{"name":"h1"}]}`, map[string]string{"Authorization": ""}, http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, b := in.send(c.method, c.path, c.body, c.header)
			if status != c.want {
				t.Fatalf("HTTP %d, want %d: %s", status, c.want, b)
			}
		})
	}
	if n := len(in.sb.Instances()); n != 0 {
		t.Fatalf("%d instances launched by refused requests", n)
	}
	if b, _ := os.ReadFile(in.logFile()); strings.Contains(string(b), `"operation":"requestMachines"`) {
		t.Fatalf("a refused request reached the operation:\n%s", b)
	}

	// What a same-origin page, a browser's own navigation and a plain
	// client send is served.
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "same-origin", "Origin": in.http.URL},
		{"Host": "localhost"},
		{"Content-Type": "application/json; charset=utf-8"},
	} {
		if status, b := in.send("POST", "/api/v1/requests", order, h); status != http.StatusCreated {
			t.Fatalf("%v: HTTP %d: %s", h, status, b)
		}
	}
	for _, h := range []map[string]string{{"Sec-Fetch-Site": "none"}, {"Host": "[::1]:80"}, {"Authorization": ""}} {
		if status, b := in.send("GET", "/api/v1/templates", "", h); status != http.StatusOK {
			t.Fatalf("%v: HTTP %d: %s", h, status, b)
		}
	}
	// Another site may link to the dashboard.
	if status, _ := in.send("GET", "/", "", map[string]string{"Sec-Fetch-Site": "cross-site"}); status != http.StatusOK {
		t.Fatalf("dashboard from a link: HTTP %d", status)
	}
}

// The token the server makes for mutations is kept private in the work
// folder, survives a restart, and is never served.
func TestServerTokenForMutations(t *testing.T) {
	in := newInstance(t, "")
	fi, err := os.Stat(in.srv.TokenFile())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	again, err := New(Options{Env: in.env})
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
	if b, _ := os.ReadFile(again.TokenFile()); strings.TrimSpace(string(b)) != in.token {
		t.Fatal("a restarted server made another token")
	}
	for _, rt := range in.srv.routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if method != "GET" {
			continue
		}
		path = strings.NewReplacer("{$}", "", "{file}", "app.js", "{id}", "req-1").Replace(path)
		if _, b := in.send("GET", path, "", nil); strings.Contains(string(b), in.token) {
			t.Errorf("GET %s hands out the token", path)
		}
	}
}

// Turning the token off is the operator's explicit choice, and then only
// on loopback; an explicit host name is allowed as asked.
func TestNoTokenAndAllowedHosts(t *testing.T) {
	in := newInstance(t, "")
	srv, err := New(Options{Env: in.env, NoToken: true, AllowHosts: []string{"HF-Master.example."}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.ListenAndServe(ctx(t), "0.0.0.0:0", TLS{}, func(string) { t.Error("it listened") }); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("listening beyond loopback without a token: %v", err)
	}
	in.srv = srv
	in.http.Config.Handler = srv
	if status, b := in.send("POST", "/api/v1/requests", `{"template":{"templateId":"small","machineCount":1}}`,
		map[string]string{"Authorization": "", "Host": "hf-master.example:8080"}); status != http.StatusCreated {
		t.Fatalf("HTTP %d: %s", status, b)
	}
	if _, err := New(Options{Env: in.env, NoToken: true, Token: "x"}); err == nil {
		t.Fatal("a token and no token at once were accepted")
	}
}
