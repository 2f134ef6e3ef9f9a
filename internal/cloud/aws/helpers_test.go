package aws

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/sandbox"
	"github.com/ohfp/ohfp/internal/store/sqlite"
)

// testEnv is a Provider talking to a real sandbox on 127.0.0.1, with a
// real SQLite store as its fact cache.
type testEnv struct {
	p     *Provider
	sb    *sandbox.Sandbox
	store *sqlite.Store
	rec   *recorder
	url   string
}

// newTestEnv starts a sandbox and a Provider for it; edit adjusts the AWS
// settings before the Provider is built.
func newTestEnv(t *testing.T, edit ...func(*config.AWS)) *testEnv {
	t.Helper()
	return newTestEnvOn(t, sandbox.Options{}, edit...)
}

// newTestEnvOn is newTestEnv on a sandbox with opts (a clock the test
// advances, a pending delay).
func newTestEnvOn(t *testing.T, opts sandbox.Options, edit ...func(*config.AWS)) *testEnv {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	opts.Logger = quiet
	sb := sandbox.New(opts)
	rec := &recorder{next: sb}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)

	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ohfp.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })

	cfg := config.AWS{
		Region:            "us-east-1",
		EndpointURL:       srv.URL,
		CredentialFile:    credentialFile(t),
		ConnectionTimeout: 5 * time.Second,
	}
	for _, e := range edit {
		e(&cfg)
	}
	p, err := New(t.Context(), cfg, quiet, st)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	p.now = sb.Now // AWS dates what it makes by its own clock
	return &testEnv{p: p, sb: sb, store: st, rec: rec, url: srv.URL}
}

// credentialFile writes a shared credentials file, so no test depends on
// the environment's credentials (the sandbox checks no signature).
func credentialFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "credentials")
	creds := "[default]\naws_access_key_id = AKIDSANDBOX\naws_secret_access_key = sandbox-secret\n"
	if err := os.WriteFile(path, []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantCalls fails the test unless the sandbox answered action n times
// since its last reset.
func (e *testEnv) wantCalls(t *testing.T, action string, n int64, why string) {
	t.Helper()
	if got := e.sb.Calls()[action]; got != n {
		t.Errorf("%d %s calls, want %d: %s", got, action, n, why)
	}
}

// wantForm fails the test unless form has the wanted values.
func wantForm(t *testing.T, form url.Values, want map[string]string) {
	t.Helper()
	for key, w := range want {
		if got := form.Get(key); got != w {
			t.Errorf("%s = %q, want %q", key, got, w)
		}
	}
}

// fault arms a sandbox fault or fails the test.
func (e *testEnv) fault(t *testing.T, f sandbox.Fault) {
	t.Helper()
	if err := e.sb.AddFault(f); err != nil {
		t.Fatalf("AddFault: %v", err)
	}
}

// launch calls Launch with a fresh context.
func (e *testEnv) launch(t *testing.T, spec cloud.LaunchSpec) (cloud.Placement, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	return e.p.Launch(ctx, spec)
}

// mustLaunch launches spec and fails the test on an error.
func (e *testEnv) mustLaunch(t *testing.T, spec cloud.LaunchSpec) cloud.Placement {
	t.Helper()
	pl, err := e.launch(t, spec)
	if err != nil {
		t.Fatalf("Launch(%s): %v", spec.RequestID, err)
	}
	return pl
}

// baseSpec asks for count t3.micro instances of the sandbox's default image.
func baseSpec(requestID string, count int) cloud.LaunchSpec {
	return cloud.LaunchSpec{
		RequestID:      requestID,
		ProviderName:   "awsinst",
		InstallationID: "inst-1",
		ClientToken:    "tok-" + requestID,
		Count:          count,
		Template: config.Template{
			ID:               "basic",
			ProviderAPI:      "RunInstances",
			PriceType:        config.PriceOnDemand,
			ImageID:          sandbox.DefaultImageID,
			VMType:           "t3.micro",
			SubnetIDs:        []string{sandbox.DefaultSubnetIDs[0]},
			SecurityGroupIDs: []string{sandbox.DefaultSecurityGroupID},
			KeyName:          sandbox.DefaultKeyName,
		},
	}
}

func ids(instances []cloud.Instance) []string {
	out := make([]string, len(instances))
	for i, in := range instances {
		out[i] = in.ID
	}
	return out
}

func sandboxIDs(instances []sandbox.Instance) []string {
	out := make([]string, len(instances))
	for i, in := range instances {
		out[i] = in.ID
	}
	return out
}

func tagMap(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
	}
	return m
}

// recorder keeps the form of every query-protocol call on its way to the
// sandbox, to check what went over the wire that the sandbox does not
// keep (volume tags, block devices, user data, fleet overrides).
type recorder struct {
	next  http.Handler
	mu    sync.Mutex
	forms map[string][]url.Values // by Action
	auth  []string                // Authorization headers, in order
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	r.mu.Unlock()
	if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
		r.mu.Lock()
		if r.forms == nil {
			r.forms = map[string][]url.Values{}
		}
		r.forms[form.Get("Action")] = append(r.forms[form.Get("Action")], form)
		r.mu.Unlock()
	}
	r.next.ServeHTTP(w, req)
}

// formsOf are the calls of action recorded so far.
func (r *recorder) formsOf(action string) []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]url.Values(nil), r.forms[action]...)
}

// runForms are the RunInstances calls recorded so far.
func (r *recorder) runForms() []url.Values { return r.formsOf("RunInstances") }
