// Package e2e drives the real ohfp binary through the real provider
// scripts, as HostFactory does, against the sandbox on 127.0.0.1.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
	"github.com/ohfp/ohfp/internal/store"
	"github.com/ohfp/ohfp/internal/store/sqlite"
)

var (
	binary    string // the ohfp binary under test
	scriptDir string // the repository's scripts folder
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ohfp-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_, here, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(here), "..", "..")
	scriptDir = filepath.Join(repo, "scripts")
	binary = filepath.Join(dir, "ohfp")
	build := exec.Command("go", "build", "-o", binary, "./cmd/ohfp")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building ohfp: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one provider instance wired to its own sandbox.
type env struct {
	t    *testing.T
	sb   *sandbox.Sandbox
	url  string
	root string
	hf   *hostfactory.Host
	// busy counts the AWS calls the sandbox is handling, including those
	// of processes killed since.
	busy *atomic.Int64
}

// Template fields for tests; the sandbox knows these resources.
func template(id string, maxNumber int, extra map[string]any) map[string]any {
	t := map[string]any{
		"templateId":       id,
		"maxNumber":        maxNumber,
		"imageId":          sandbox.DefaultImageID,
		"vmType":           "t3.micro",
		"subnetId":         sandbox.DefaultSubnetIDs[0],
		"securityGroupIds": []string{sandbox.DefaultSecurityGroupID},
	}
	for k, v := range extra {
		t[k] = v
	}
	return t
}

func newEnv(t *testing.T, opts sandbox.Options, templates []map[string]any, config map[string]any) *env {
	t.Helper()
	sb := sandbox.New(opts)
	busy := &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		busy.Add(1)
		defer busy.Add(-1)
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := map[string]any{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": srv.URL, "AWS_REQUEST_RETRY_ATTEMPTS": 1}
	for k, v := range config {
		cfg[k] = v
	}
	root := t.TempDir()
	host, err := hostfactory.Provider{
		Name:      "awsinst",
		ScriptDir: scriptDir,
		Binary:    binary,
		Config:    cfg,
		Templates: map[string]any{"templates": templates},
	}.Install(root)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, sb: sb, url: srv.URL, root: root, hf: host, busy: busy}
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	e.t.Cleanup(cancel)
	return ctx
}

// call runs op with input and returns its result, failing the test if the
// script could not run or printed anything but one JSON document.
func (e *env) call(op string, input any) hostfactory.Result {
	e.t.Helper()
	res, err := e.hf.Call(e.ctx(), op, input)
	if err != nil {
		e.t.Fatal(err)
	}
	var doc json.RawMessage
	if err := hostfactory.Decode(res.Stdout, &doc); err != nil {
		e.t.Fatalf("%s: standard output is not one JSON document (%v):\n%s", op, err, res.Stdout)
	}
	return res
}

// failure runs op expecting exit code want and returns the error envelope.
func (e *env) failure(op string, input any, want int) hostfactory.Error {
	e.t.Helper()
	res := e.call(op, input)
	var out hostfactory.Error
	if err := hostfactory.Decode(res.Stdout, &out); err != nil {
		e.t.Fatalf("%s: not an error envelope (%v): %s", op, err, res.Stdout)
	}
	if res.Exit != want {
		e.t.Fatalf("%s: exit %d, want %d; answer %s", op, res.Exit, want, res.Stdout)
	}
	if out.Message == "" || out.Error.Code == "" || out.Error.Message == "" {
		e.t.Fatalf("%s: incomplete error envelope: %s", op, res.Stdout)
	}
	return out
}

func (e *env) request(templateID string, n int) string {
	e.t.Helper()
	id, err := e.hf.RequestMachines(e.ctx(), templateID, n)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) wait(id string) hostfactory.Request {
	e.t.Helper()
	r, err := e.hf.Wait(e.ctx(), id, 100*time.Millisecond)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// store opens the provider instance's real SQLite store for inspection.
func (e *env) store() store.Store {
	e.t.Helper()
	st, err := sqlite.Open(e.ctx(), filepath.Join(e.root, "work", "ohfp.db"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { st.Close() })
	return st
}

// instancesOf lists the sandbox instances launched for a request.
func (e *env) instancesOf(requestID string) []sandbox.Instance {
	return e.sb.InstancesWithTag("ohfp:request-id", requestID)
}

// ec2 is a plain EC2 client on the sandbox: what an administrator's console
// or another tool would do behind HostFactory's back.
func (e *env) ec2() *ec2.Client {
	return ec2.New(ec2.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(e.url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIASANDBOX", "sandbox-secret", ""),
	})
}

func (e *env) terminate(id string) {
	e.t.Helper()
	if _, err := e.ec2().TerminateInstances(e.ctx(), &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		e.t.Fatal(err)
	}
}

// launchForeign starts an instance ohfp did not launch.
func (e *env) launchForeign() types.Instance {
	e.t.Helper()
	out, err := e.ec2().RunInstances(e.ctx(), &ec2.RunInstancesInput{
		ImageId: aws.String(sandbox.DefaultImageID), InstanceType: types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("someone-else")}}}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out.Instances[0]
}
