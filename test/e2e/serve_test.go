package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// serve starts `ohfp serve` for the provider instance on a free loopback
// port and returns its URL; the test ends it with SIGTERM and expects a
// clean exit.
func (e *env) serve() string {
	e.t.Helper()
	url, _ := e.serveLogged()
	return url
}

// serveLogged is serve, also giving what the server writes to standard
// error (its own diagnostics) as it goes.
func (e *env) serveLogged() (string, *syncBuffer) {
	e.t.Helper()
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = e.hf.Env
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	exited := make(chan error, 1)
	e.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				e.t.Errorf("ohfp serve did not stop cleanly: %v\n%s", err, stderr.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			e.t.Errorf("ohfp serve ignored SIGTERM\n%s", stderr.String())
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, out)
		exited <- cmd.Wait()
	}()
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(line, "serving on ")
		if !ok {
			e.t.Fatalf("ohfp serve printed %q", line)
		}
		token, err := os.ReadFile(filepath.Join(e.root, "work", "serve.token"))
		if err != nil {
			e.t.Fatalf("ohfp serve made no token for mutations: %v", err)
		}
		serveTokens.Store(url, strings.TrimSpace(string(token)))
		e.t.Cleanup(func() { serveTokens.Delete(url) })
		return url, stderr
	case <-time.After(20 * time.Second):
		e.t.Fatalf("ohfp serve did not start\n%s", stderr.String())
	}
	return "", nil
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serveTokens holds the token each server started by serve made for
// mutations, by its URL.
var serveTokens sync.Map

// rest sends one API call as a client on the host does (JSON body, the
// server's token), checks the HTTP status and decodes the answer.
func rest(t *testing.T, method, url, body string, want int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	serveTokens.Range(func(base, token any) bool {
		if strings.HasPrefix(url, base.(string)+"/") {
			req.Header.Set("Authorization", "Bearer "+token.(string))
		}
		return true
	})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != want {
		t.Fatalf("%s %s: HTTP %d, want %d: %s", method, url, res.StatusCode, want, b)
	}
	if out != nil {
		if err := hostfactory.Decode(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
}

// metrics scrapes /metrics into "name{label="value",...}" -> value, labels
// sorted; histograms give their sample count.
func metrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	out := map[string]float64{}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			out[name+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}

// waitREST polls the request through the API as HostFactory would
// (getRequestStatus) until it is finished, and returns the answer and the
// number of polls.
func waitREST(t *testing.T, url, id string) (hostfactory.Request, int) {
	t.Helper()
	for polls := 1; ; polls++ {
		var st hostfactory.Status
		rest(t, "POST", url+"/api/v1/status", fmt.Sprintf(`{"requests":[{"requestId":%q}]}`, id), http.StatusOK, &st)
		if len(st.Requests) != 1 {
			t.Fatalf("status of %s: %+v", id, st)
		}
		if r := st.Requests[0]; r.Status != "running" {
			return r, polls
		}
		if polls > 200 {
			t.Fatalf("request %s still running", id)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A request driven through the REST API of the real `ohfp serve` moves the
// operation counters and the machine gauges; a script run beside it is
// counted too.
func TestServeDrivesACycleAndCountsIt(t *testing.T) {
	e := newEnv(t, sandbox.Options{PendingDelay: 300 * time.Millisecond, ShutdownDelay: 200 * time.Millisecond},
		[]map[string]any{template("web", 4, nil)}, nil)
	url := e.serve()

	before := metrics(t, url)
	if before[`ohfp_template_capacity{template="web"}`] != 4 || before[`ohfp_machines{state="running",template="web"}`] != 0 {
		t.Fatalf("gauges before any request: %v", before)
	}
	e.call("getAvailableTemplates", map[string]any{}) // a script process, as HostFactory runs it

	var placed hostfactory.RequestID
	rest(t, "POST", url+"/api/v1/requests", `{"template":{"templateId":"web","machineCount":3}}`, http.StatusCreated, &placed)
	done, createPolls := waitREST(t, url, placed.RequestID)
	if done.Status != "complete" || len(done.Machines) != 3 {
		t.Fatalf("request finished as %+v", done)
	}
	mid := metrics(t, url)
	for key, want := range map[string]float64{
		`ohfp_machines{state="running",template="web"}`:                              3,
		`ohfp_template_used{template="web"}`:                                         3,
		`ohfp_requests{kind="create",state="complete"}`:                              1,
		`ohfp_operations_total{operation="requestMachines",outcome="success"}`:       1,
		`ohfp_operations_total{operation="getAvailableTemplates",outcome="success"}`: 1,
		`ohfp_operations_total{operation="getRequestStatus",outcome="success"}`:      float64(createPolls),
		`ohfp_operation_duration_seconds{operation="getRequestStatus"}`:              float64(createPolls),
	} {
		if got := mid[key]; got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}

	refs := make([]map[string]string, len(done.Machines))
	for i, m := range done.Machines {
		refs[i] = map[string]string{"name": m.Name, "machineId": m.MachineID}
	}
	body, _ := json.Marshal(map[string]any{"machines": refs})
	var returned hostfactory.RequestID
	rest(t, "POST", url+"/api/v1/returns", string(body), http.StatusCreated, &returned)
	ret, returnPolls := waitREST(t, url, returned.RequestID)
	if ret.Status != "complete" {
		t.Fatalf("return finished as %+v", ret)
	}
	rest(t, "POST", url+"/api/v1/requests", `{"template":{"templateId":"nope","machineCount":1}}`, http.StatusNotFound, nil)

	after := metrics(t, url)
	for key, want := range map[string]float64{
		`ohfp_machines{state="running",template="web"}`:                                   0,
		`ohfp_template_used{template="web"}`:                                              0,
		`ohfp_requests{kind="return",state="complete"}`:                                   1,
		`ohfp_operations_total{operation="requestReturnMachines",outcome="success"}`:      1,
		`ohfp_operations_total{operation="getRequestStatus",outcome="success"}`:           float64(createPolls + returnPolls),
		`ohfp_operations_total{operation="requestMachines",outcome="TEMPLATE_NOT_FOUND"}`: 1,
		// The AWS calls the operations made, from their "aws call" lines.
		`ohfp_aws_calls_total{api="ec2:RunInstances",code="ok"}`:       1,
		`ohfp_aws_calls_total{api="ec2:TerminateInstances",code="ok"}`: 1,
	} {
		if got := after[key]; got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	if after[`ohfp_aws_calls_total{api="ec2:DescribeInstances",code="ok"}`] < 1 {
		t.Errorf("no DescribeInstances call counted")
	}
}
