package e2e

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// Secrets the log must never hold, distinct enough not to appear by chance.
const (
	secretKey        = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYSECRETKEY01"
	templateUserData = "CLUSTER_TOKEN=tmpl-0f9e8d7c6b5a49382716-userdata"
	requestUserData  = "lsf-0a1b2c3d4e5f60718293-request-userdata"
)

// leaks reports which secrets text holds, as is or base64-encoded at any
// alignment (EC2 takes user data in base64).
func leaks(text []byte) []string {
	var found []string
	for _, s := range []string{secretKey, templateUserData, requestUserData} {
		if bytes.Contains(text, []byte(s)) {
			found = append(found, s)
			continue
		}
		for pad := range 3 {
			enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", pad) + s))
			// The middle of the encoding depends on the secret alone.
			if bytes.Contains(text, []byte(enc[4:len(enc)-4])) {
				found = append(found, "base64 of "+s)
				break
			}
		}
	}
	return found
}

// TestLogKeepsSecrets runs every operation at DEBUG, on success and on
// error paths, with the AWS secret key in the environment and user data in
// the template and the request, and then reads every log file.
func TestLogKeepsSecrets(t *testing.T) {
	// The detector finds what it looks for.
	for pad := range 3 {
		text := "user_data=" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("#", pad)+"k="+requestUserData+";"))
		if len(leaks([]byte(text))) != 1 {
			t.Fatalf("leaks misses the secret in %s", text)
		}
	}
	e := newEnv(t, sandbox.Options{PendingDelay: 200 * time.Millisecond}, []map[string]any{
		template("secret", 10, map[string]any{"userData": templateUserData}),
	}, map[string]any{"LogLevel": "DEBUG"})
	e.hf.Env = append(e.hf.Env, "AWS_SECRET_ACCESS_KEY="+secretKey, "HF_LOG_LEVEL=DEBUG")

	request := map[string]any{
		"template":   map[string]any{"templateId": "secret", "machineCount": 2},
		"rc_account": "default",
		"userData":   map[string]any{"token": requestUserData},
	}
	var out struct{ Message, RequestID string }
	res := e.call("requestMachines", request)
	if err := hostfactory.Decode(res.Stdout, &out); err != nil || res.Exit != 0 {
		t.Fatalf("requestMachines exit %d: %s", res.Exit, res.Stdout)
	}
	req := e.wait(out.RequestID)
	if req.Status != "complete" {
		t.Fatalf("request ended %s", req.Status)
	}
	// The sandbox got the user data: it is there to leak.
	if got := e.instancesOf(out.RequestID); len(got) != 2 {
		t.Fatalf("sandbox has %d instances", len(got))
	}

	// Error paths: input HostFactory should not send, AWS denying the
	// launch, then the termination.
	e.failure("requestMachines", map[string]any{"template": map[string]any{"templateId": "secret", "machineCount": "many"},
		"userData": map[string]any{"token": requestUserData}}, 2)
	e.failure("requestMachines", map[string]any{"template": map[string]any{"templateId": "nope", "machineCount": 1},
		"userData": map[string]any{"token": requestUserData}}, 2)
	if err := e.sb.AddFault(sandbox.Fault{Action: "ec2:RunInstances", Code: "UnauthorizedOperation"}); err != nil {
		t.Fatal(err)
	}
	e.failure("requestMachines", request, 3)
	if err := e.sb.AddFault(sandbox.Fault{Action: "ec2:TerminateInstances", Code: "UnauthorizedOperation"}); err != nil {
		t.Fatal(err)
	}
	hosts := make([]map[string]any, len(req.Machines))
	for i, m := range req.Machines {
		hosts[i] = map[string]any{"name": m.Name, "machineId": m.MachineID}
	}
	e.call("requestReturnMachines", map[string]any{"machines": hosts})
	e.call("getRequestStatus", map[string]any{"requests": []map[string]any{{"requestId": out.RequestID}}})
	e.call("getReturnRequests", map[string]any{"machines": hosts})
	// A human command at DEBUG too.
	run(t, append(e.hf.Env, "HF_LOG_LEVEL=DEBUG"), "requests", "show", out.RequestID, "-o", "json")

	logs, err := filepath.Glob(filepath.Join(e.root, "log", "*"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no log files: %v", err)
	}
	var all []byte
	for _, f := range logs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
		if found := leaks(b); len(found) > 0 {
			t.Errorf("%s holds %v", f, found)
		}
	}
	// The test must have had something to look at.
	if !bytes.Contains(all, []byte("UnauthorizedOperation")) {
		t.Errorf("the log does not record the denied launch:\n%s", all)
	}
	// Only the account that runs HostFactory reads the log.
	for _, f := range logs {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("log file %s: mode %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}

	// The state store keeps no user data value either: not the template's
	// userData values, not LSF's userData, in the file or its write-ahead
	// log; the names stay, to say what was passed.
	var stored []byte
	work, _ := filepath.Glob(filepath.Join(e.root, "work", "ohfp.db*"))
	for _, f := range work {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, b...)
		_, tmplValue, _ := strings.Cut(templateUserData, "=")
		for _, s := range []string{tmplValue, requestUserData} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q", f, s)
			}
		}
	}
	if !bytes.Contains(stored, []byte("CLUSTER_TOKEN=(not stored)")) || !bytes.Contains(stored, []byte(`"token":"(not stored)"`)) {
		t.Errorf("the store does not keep the names of the user data it was given (%d bytes read from %v)", len(stored), work)
	}
}
