package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// instance is one provider instance on its own sandbox, served by a Server.
type instance struct {
	t     *testing.T
	env   func(string) string
	root  string
	sb    *sandbox.Sandbox
	srv   *Server
	http  *httptest.Server
	token string
}

func templateDef(id string, maxNumber int) map[string]any {
	return map[string]any{
		"templateId":       id,
		"maxNumber":        maxNumber,
		"imageId":          sandbox.DefaultImageID,
		"vmType":           "t3.micro",
		"subnetId":         sandbox.DefaultSubnetIDs[0],
		"securityGroupIds": []string{sandbox.DefaultSecurityGroupID},
		"attributes": map[string]any{
			"type": []string{"String", "X86_64"}, "ncpus": []string{"Numeric", "2"},
			"ncores": []string{"Numeric", "1"}, "nram": []string{"Numeric", "1024"},
		},
	}
}

func newInstance(t *testing.T, token string) *instance {
	t.Helper()
	return newInstanceWith(t, Options{Token: token})
}

// newInstanceWith is newInstance with the server's options (Env is set).
func newInstanceWith(t *testing.T, opts Options) *instance {
	t.Helper()
	token := opts.Token
	// The AWS SDK reads credentials from the process environment.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIASANDBOX")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "sandbox-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	sb := sandbox.New(sandbox.Options{PendingDelay: 200 * time.Millisecond, ShutdownDelay: 100 * time.Millisecond})
	aws := httptest.NewServer(sb)
	t.Cleanup(aws.Close)
	root := t.TempDir()
	host, err := hostfactory.Provider{
		Name:      "awsinst",
		Config:    map[string]any{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": aws.URL, "AWS_REQUEST_RETRY_ATTEMPTS": 0},
		Templates: map[string]any{"templates": []any{templateDef("small", 3), templateDef("big", 10)}},
	}.Install(root)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, kv := range host.Env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	env := func(k string) string { return vars[k] }
	opts.Env = env
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if token == "" && !opts.NoToken {
		// Mutations need the token the server made.
		b, err := os.ReadFile(srv.TokenFile())
		if err != nil {
			t.Fatal(err)
		}
		token = strings.TrimSpace(string(b))
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &instance{t: t, env: env, root: root, sb: sb, srv: srv, http: hs, token: token}
}

func (in *instance) logFile() string { return filepath.Join(in.root, "log", "ohfp.log") }

// do sends one request and returns the status and body.
func (in *instance) do(method, path, body string) (int, []byte) {
	in.t.Helper()
	return in.send(method, path, body, nil)
}

// send is do with headers set over the usual ones ("" removes one; "Host"
// sets the Host header).
func (in *instance) send(method, path, body string, header map[string]string) (int, []byte) {
	in.t.Helper()
	req, err := http.NewRequest(method, in.http.URL+path, strings.NewReader(body))
	if err != nil {
		in.t.Fatal(err)
	}
	if in.token != "" {
		req.Header.Set("Authorization", "Bearer "+in.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		switch {
		case k == "Host":
			req.Host = v
		case v == "":
			req.Header.Del(k)
		default:
			req.Header.Set(k, v)
		}
	}
	res, err := in.http.Client().Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		in.t.Fatal(err)
	}
	return res.StatusCode, b
}

// call sends one request, checks its status and decodes the JSON answer.
func (in *instance) call(method, path, body string, want int, out any) {
	in.t.Helper()
	status, b := in.do(method, path, body)
	if status != want {
		in.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			in.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

type statusAnswer struct {
	Requests []struct {
		RequestID string `json:"requestId"`
		Status    string `json:"status"`
		Machines  []struct {
			MachineID string `json:"machineId"`
			Name      string `json:"name"`
			Result    string `json:"result"`
			Status    string `json:"status"`
		} `json:"machines"`
	} `json:"requests"`
}

// waitStatus polls a request as HostFactory does until it is finished.
// Between polls it moves the sandbox's clock past its pending and shutdown
// delays instead of waiting for them.
func (in *instance) waitStatus(id string) statusAnswer {
	in.t.Helper()
	for range 10 {
		var st statusAnswer
		in.call("POST", "/api/v1/status", fmt.Sprintf(`{"requests":[{"requestId":%q}]}`, id), http.StatusOK, &st)
		if len(st.Requests) != 1 {
			in.t.Fatalf("status of %s: %+v", id, st)
		}
		if st.Requests[0].Status != "running" {
			return st
		}
		in.sb.Advance(time.Second)
	}
	in.t.Fatalf("request %s still running after 10 polls, 10 s of sandbox time apart", id)
	return statusAnswer{}
}

// appendLog writes lines to the provider's log file as ohfp processes do.
func (in *instance) appendLog(lines ...string) {
	in.t.Helper()
	f, err := os.OpenFile(in.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		in.t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			in.t.Fatal(err)
		}
	}
}

// scrape reads /metrics and parses the exposition format.
func (in *instance) scrape() map[string]*dto.MetricFamily {
	in.t.Helper()
	status, b := in.do("GET", "/metrics", "")
	if status != http.StatusOK {
		in.t.Fatalf("/metrics: status %d: %s", status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		in.t.Fatalf("/metrics does not parse: %v\n%s", err, b)
	}
	return mfs
}

// value is the value of the series of name with exactly labels; -1 when absent.
func value(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	mf, ok := mfs[name]
	if !ok {
		return -1
	}
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
