package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/sandbox"
)

func TestEndpointFromTheEnvironment(t *testing.T) {
	e := newTestEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_EC2", e.url)
	p, err := New(t.Context(), config.AWS{Region: "us-east-1", CredentialFile: credentialFile(t)}, nil, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := p.Instances(t.Context(), cloud.Query{RequestIDs: []string{"req-x"}}); err != nil {
		t.Fatalf("Instances through AWS_ENDPOINT_URL_EC2: %v", err)
	}
	e.wantCalls(t, "ec2:DescribeInstances", 1, "the environment names the sandbox")
}

func TestNoRetriesWhenRetryAttemptsIsZero(t *testing.T) {
	e := newTestEnv(t)
	e.fault(t, sandbox.Fault{Action: "ec2:DescribeInstances", Code: "RequestLimitExceeded", Count: 1})

	_, err := e.p.Instances(t.Context(), cloud.Query{RequestIDs: []string{"req-x"}})

	if fault.CodeOf(err) != fault.Cloud || !strings.Contains(err.Error(), "RequestLimitExceeded") {
		t.Errorf("err = %v, want a %s naming RequestLimitExceeded", err, fault.Cloud)
	}
	e.wantCalls(t, "ec2:DescribeInstances", 1, "AWS_REQUEST_RETRY_ATTEMPTS 0 means no retry")
}

func TestTimeout(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.Pause("ec2:DescribeInstances", sandbox.PauseBefore); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.sb.Release("ec2:DescribeInstances") })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()

	_, err := e.p.Instances(ctx, cloud.Query{RequestIDs: []string{"req-x"}})

	if fault.CodeOf(err) != fault.Cloud || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("err = %v, want a %s that says it timed out", err, fault.Cloud)
	}
}

func TestProxy(t *testing.T) {
	e := newTestEnv(t)
	var proxied atomic.Int64
	// A forward proxy receives absolute-URI requests; the sandbox answers
	// them whatever their host.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		e.sb.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(proxy.URL, "http://"))
	portNum, _ := strconv.Atoi(port)

	p, err := New(t.Context(), config.AWS{
		Region: "us-east-1", CredentialFile: credentialFile(t),
		EndpointURL: "http://ec2.sandbox.invalid", ProxyHost: host, ProxyPort: portNum,
	}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := p.Instances(t.Context(), cloud.Query{RequestIDs: []string{"req-x"}}); err != nil {
		t.Fatalf("Instances through the proxy: %v", err)
	}
	if proxied.Load() != 1 {
		t.Errorf("the proxy saw %d requests, want 1", proxied.Load())
	}
}

func TestNoRegion(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", empty)
	_, err := New(t.Context(), config.AWS{CredentialFile: credentialFile(t)}, nil, nil)
	if fault.CodeOf(err) != fault.Configuration {
		t.Errorf("err = %v, want %s", err, fault.Configuration)
	}
}

func TestCredentialFileWinsOverTheEnvironment(t *testing.T) {
	e := newTestEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMTHEENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	p, err := New(t.Context(), config.AWS{Region: "us-east-1", EndpointURL: e.url, CredentialFile: credentialFile(t)}, nil, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := p.Instances(t.Context(), cloud.Query{RequestIDs: []string{"req-x"}}); err != nil {
		t.Fatal(err)
	}
	if auth := e.rec.auth[len(e.rec.auth)-1]; !strings.Contains(auth, "Credential=AKIDSANDBOX/") {
		t.Errorf("signed with %q, want the credential file's key", auth)
	}
}

func TestCredentialFileWithoutCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	other := write("other", "[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = s\n")
	empty := write("empty", "[default]\nregion = us-east-1\n")
	for _, tc := range []struct {
		file, profile, want string
	}{
		{other, "", "profile default"},
		{empty, "", "profile default gives no credentials"},
		{other, "nosuch", "profile nosuch"},
	} {
		_, err := New(t.Context(), config.AWS{Region: "us-east-1", CredentialFile: tc.file, Profile: tc.profile}, nil, nil)
		if fault.CodeOf(err) != fault.Configuration || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
			t.Errorf("%s, profile %q: err = %v, want a %s naming the file and %q", filepath.Base(tc.file), tc.profile, err, fault.Configuration, tc.want)
		}
	}
	if _, err := New(t.Context(), config.AWS{Region: "us-east-1", CredentialFile: other, Profile: "other"}, nil, nil); err != nil {
		t.Errorf("profile other of the file: %v", err)
	}
}

// TestDescribeRetries: AWS_DESCRIBE_REQUEST_RETRY_ATTEMPTS retries a
// throttled describe, and the call log has a line for every attempt.
func TestDescribeRetries(t *testing.T) {
	e := newTestEnv(t)
	var buf bytes.Buffer
	p, err := New(t.Context(), config.AWS{Region: "us-east-1", EndpointURL: e.url, CredentialFile: credentialFile(t),
		DescribeRetryAttempts: 2, DescribeInterval: 10 * time.Millisecond}, slog.New(slog.NewJSONHandler(&buf, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.fault(t, sandbox.Fault{Action: "ec2:DescribeInstances", Code: "RequestLimitExceeded", Count: 2})

	if _, err := p.Instances(t.Context(), cloud.Query{RequestIDs: []string{"req-x"}}); err != nil {
		t.Fatalf("Instances: %v", err)
	}

	var codes []string
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var rec struct{ Msg, API, Code string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Msg == "aws call" && rec.API == "ec2:DescribeInstances" {
			codes = append(codes, rec.Code)
		}
	}
	if want := []string{"RequestLimitExceeded", "RequestLimitExceeded", "ok"}; !slices.Equal(codes, want) {
		t.Errorf("logged %v, want one line per attempt %v", codes, want)
	}
	e.wantCalls(t, "ec2:DescribeInstances", 3, "two throttled, then answered")
}
