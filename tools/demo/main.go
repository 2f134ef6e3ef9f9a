// Command demo runs the five HostFactory operations end to end against the
// local sandbox, through the real provider scripts, printing every answer.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
)

func main() {
	bin := flag.String("bin", "bin/ohfp", "the ohfp binary")
	count := flag.Int("machines", 3, "machines to request")
	flag.Parse()
	if err := run(*bin, *count); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func run(bin string, count int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "ohfp-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)

	url, stop, err := startSandbox(ctx, bin)
	if err != nil {
		return err
	}
	defer stop()
	say("sandbox: %s (a local AWS endpoint; no AWS account is used)", url)
	say("credentials: AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s (dummies: the sandbox accepts any and checks no signature)",
		hostfactory.SandboxAccessKeyID, hostfactory.SandboxSecretAccessKey)

	cfg, err := readJSON("examples/sandbox/awsprov_config.json")
	if err != nil {
		return err
	}
	tpls, err := readJSON("examples/sandbox/awsprov_templates.json")
	if err != nil {
		return err
	}
	host, err := hostfactory.Provider{
		Name:      "awsinst",
		ScriptDir: "scripts",
		Binary:    bin,
		Config:    cfg,
		Templates: tpls,
		Env:       []string{"AWS_ENDPOINT_URL=" + url},
	}.Install(root)
	if err != nil {
		return err
	}
	host.Trace = os.Stdout

	say("1. getAvailableTemplates")
	tl, err := host.Templates(ctx)
	if err != nil {
		return err
	}
	tid := tl.Templates[0].TemplateID

	say("2. requestMachines: %d machines of %s", count, tid)
	reqID, err := host.RequestMachines(ctx, tid, count)
	if err != nil {
		return err
	}

	say("3. getRequestStatus until the request is complete")
	req, err := host.Wait(ctx, reqID, time.Second)
	if err != nil {
		return err
	}
	if req.Status != "complete" || len(req.Machines) != count {
		return fmt.Errorf("request %s ended %s with %d machines", reqID, req.Status, len(req.Machines))
	}
	for _, m := range req.Machines {
		if m.Result != "succeed" || m.Name == "" || m.PrivateIPAddress == "" {
			return fmt.Errorf("machine %s: result %s, name %q, ip %q", m.MachineID, m.Result, m.Name, m.PrivateIPAddress)
		}
	}

	say("4. requestReturnMachines: all %d", count)
	retID, err := host.ReturnMachines(ctx, hostfactory.Hosts(req.Machines))
	if err != nil {
		return err
	}

	say("5. getRequestStatus of the return until it is complete")
	ret, err := host.Wait(ctx, retID, time.Second)
	if err != nil {
		return err
	}
	if ret.Status != "complete" {
		return fmt.Errorf("return %s ended %s", retID, ret.Status)
	}

	say("6. getReturnRequests: the returned hosts are gone (grace period 0)")
	if _, err := host.ReturnRequests(ctx, hostfactory.Hosts(req.Machines)); err != nil {
		return err
	}

	states, err := sandboxStates(ctx, url, reqID)
	if err != nil {
		return err
	}
	say("in the sandbox, the instances of %s are now: %s", reqID, strings.Join(states, ", "))
	for _, s := range states {
		if s != "terminated" && s != "shutting-down" {
			return fmt.Errorf("instance left %s in the sandbox", s)
		}
	}
	say("demo complete: %d machines requested, running, returned and terminated", count)
	return nil
}

func say(format string, args ...any) { fmt.Printf("\n== "+format+"\n", args...) }

func readJSON(path string) (json.RawMessage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%s is not valid JSON", path)
	}
	return b, nil
}

// startSandbox runs `ohfp sandbox` on a free port and returns its URL.
func startSandbox(ctx context.Context, bin string) (string, func(), error) {
	cmd := exec.CommandContext(ctx, bin, "sandbox", "--addr", "127.0.0.1:0", "--pending-delay", "2s")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("sandbox did not start: %w", err)
	}
	url, err := listenURL(line)
	if err != nil {
		stop()
		return "", nil, err
	}
	return url, stop, nil
}

// listenURL takes the URL out of the sandbox's first line, which may say
// more after it ("sandbox listening on http://… (any credentials)").
func listenURL(line string) (string, error) {
	i := strings.Index(line, "http://")
	if i < 0 {
		return "", errors.New("sandbox printed no URL: " + line)
	}
	url, _, _ := strings.Cut(strings.TrimSpace(line[i:]), " ")
	return url, nil
}

// sandboxStates reads the states of a request's instances from the
// sandbox's control API.
func sandboxStates(ctx context.Context, url, reqID string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/_sandbox/instances", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var insts []struct {
		State string            `json:"state"`
		Tags  map[string]string `json:"tags"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&insts); err != nil {
		return nil, fmt.Errorf("reading sandbox instances: %w", err)
	}
	var states []string
	for _, in := range insts {
		if in.Tags["ohfp:request-id"] == reqID {
			states = append(states, in.State)
		}
	}
	return states, nil
}
