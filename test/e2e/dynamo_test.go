package e2e

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/installation"
	"github.com/ohfp/ohfp/internal/sandbox"
	"github.com/ohfp/ohfp/internal/store"
	"github.com/ohfp/ohfp/internal/store/dynamo"
	"github.com/ohfp/ohfp/internal/store/dynamo/dynamotest"
	"github.com/ohfp/ohfp/internal/store/sqlite"
	"github.com/ohfp/ohfp/internal/store/transfer/transfertest"
)

// dynamoLocal starts DynamoDB Local once for the tests of this binary that
// need it, or uses the endpoint in dynamotest.EndpointEnv. The server
// stops when this process ends (OHFP_DYNAMODB_OWNER_PID): no hook runs
// after the last test that uses it.
var dynamoLocal = sync.OnceValues(func() (string, error) {
	if ep := os.Getenv(dynamotest.EndpointEnv); ep != "" {
		return ep, nil
	}
	return startDynamo("")
})

// secondDynamo is dynamoLocal for the second implementation
// (dynamotest.Second), or the endpoint in dynamotest.SecondEndpointEnv.
var secondDynamo = sync.OnceValues(func() (string, error) {
	if ep := os.Getenv(dynamotest.SecondEndpointEnv); ep != "" {
		return ep, nil
	}
	return startDynamo(dynamotest.Second)
})

// startDynamo starts implementation impl ("" for DynamoDB Local) with
// tools/dynamodb/start.sh, to stop when this process ends.
func startDynamo(impl string) (string, error) {
	runDir, err := os.MkdirTemp("", "ohfp-e2e-dynamodb-")
	if err != nil {
		return "", err
	}
	// The server keeps its open log; the folder is needed only to start it.
	defer os.RemoveAll(runDir)
	cmd := exec.Command(filepath.Join(scriptDir, "..", "tools", "dynamodb", "start.sh"), runDir)
	cmd.Env = append(os.Environ(), fmt.Sprintf("OHFP_DYNAMODB_OWNER_PID=%d", os.Getpid()), "OHFP_DYNAMODB_IMPL="+impl)
	cmd.Stderr = os.Stderr // why it failed
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("starting %s: %w", cmp.Or(impl, "DynamoDB Local"), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// dynamoTables names fresh DynamoDB Local tables for one test, deleted
// when it ends, and returns the config keys that select them.
func dynamoTables(t *testing.T) map[string]any {
	t.Helper()
	endpoint, err := dynamoLocal()
	if err != nil {
		t.Fatal(err)
	}
	return dynamoTablesAt(t, endpoint)
}

// implementation is a DynamoDB API the tests run against.
type implementation struct{ name, endpoint string }

// dynamoImplementations are the implementations of the DynamoDB API that
// the concurrency cases run on.
func dynamoImplementations(t *testing.T) []implementation {
	t.Helper()
	local, err := dynamoLocal()
	if err != nil {
		t.Fatal(err)
	}
	second, err := secondDynamo()
	if err != nil {
		t.Fatal(err)
	}
	return []implementation{{"DynamoDBLocal", local}, {dynamotest.Second, second}}
}

// dynamoTablesAt is dynamoTables on the DynamoDB API at endpoint.
func dynamoTablesAt(t *testing.T, endpoint string) map[string]any {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	prefix := "ohfp-e2e-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: localCredentials})
		for _, suffix := range []string{"-requests", "-machines", "-facts", "-events"} {
			// Tables a test never created are not there to delete.
			db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(prefix + suffix)})
		}
	})
	return map[string]any{
		"OHFP_STORAGE":               "dynamodb",
		"OHFP_DYNAMODB_TABLE_PREFIX": prefix,
		"OHFP_DYNAMODB_ENDPOINT_URL": endpoint,
	}
}

var localCredentials = credentials.NewStaticCredentialsProvider("AKIASANDBOX", "sandbox-secret", "")

// openDynamo opens, for inspection, the DynamoDB store that config keys
// from dynamoTables select.
func openDynamo(t *testing.T, keys map[string]any) *dynamo.Store {
	t.Helper()
	st, err := dynamo.Open(t.Context(), dynamo.Options{
		TablePrefix: keys["OHFP_DYNAMODB_TABLE_PREFIX"].(string),
		EndpointURL: keys["OHFP_DYNAMODB_ENDPOINT_URL"].(string),
		AWSConfig:   &aws.Config{Region: "us-east-1", Credentials: localCredentials},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// confFile is the path of a file in the provider instance's conf folder.
func (e *env) confFile(name string) string { return filepath.Join(e.root, "conf", name) }

// writeConfig writes, in the conf folder, the provider instance's config
// with keys changed, and returns its path.
func (e *env) writeConfig(name string, keys map[string]any) string {
	e.t.Helper()
	b, err := os.ReadFile(e.confFile("awsinstprov_config.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := map[string]any{}
	if err := json.Unmarshal(b, &cfg); err != nil {
		e.t.Fatal(err)
	}
	maps.Copy(cfg, keys)
	if b, err = json.Marshal(cfg); err != nil {
		e.t.Fatal(err)
	}
	path := e.confFile(name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// with is the provider instance's environment plus vars.
func (e *env) with(vars ...string) []string {
	return append(slices.Clone(e.hf.Env), vars...)
}

// otherHost installs a second HostFactory host of the same provider
// instance: the same config, templates and cloud, its own folders.
func (e *env) otherHost() *hostfactory.Host {
	e.t.Helper()
	files := map[string]json.RawMessage{}
	for _, name := range []string{"awsinstprov_config.json", "awsinstprov_templates.json"} {
		b, err := os.ReadFile(e.confFile(name))
		if err != nil {
			e.t.Fatal(err)
		}
		files[name] = b
	}
	id, err := installation.Ensure(filepath.Join(e.root, "conf"))
	if err != nil {
		e.t.Fatal(err)
	}
	host, err := hostfactory.Provider{
		Name: "awsinst", ScriptDir: scriptDir, Binary: binary,
		Config: files["awsinstprov_config.json"], Templates: files["awsinstprov_templates.json"],
		// The same installation: its id goes with the configuration.
		InstallationID: id,
	}.Install(e.t.TempDir())
	if err != nil {
		e.t.Fatal(err)
	}
	return host
}

// TestStoreInitAndCycleOnDynamoDB sets the tables up with `ohfp store init`
// and drives the demo cycle through the scripts with the state on DynamoDB.
func TestStoreInitAndCycleOnDynamoDB(t *testing.T) {
	tables := dynamoTables(t)
	e := newEnv(t, sandbox.Options{PendingDelay: 300 * time.Millisecond, ShutdownDelay: 300 * time.Millisecond},
		[]map[string]any{template("OnDemand-Minimal", 10, nil)}, tables)

	out, _, exit := run(t, e.hf.Env, "store", "init", "--check")
	if exit != 1 || strings.Count(out, "missing table") != 4 {
		t.Fatalf("store init --check before init: exit %d\n%s", exit, out)
	}
	out, errOut, exit := run(t, e.hf.Env, "store", "init")
	if exit != 0 || strings.Count(out, "created table") != 4 || strings.Count(out, "enabled TTL") != 4 {
		t.Fatalf("store init: exit %d\n%s%s", exit, out, errOut)
	}
	out, errOut, exit = run(t, e.hf.Env, "store", "init", "--check")
	if exit != 0 || !strings.Contains(out, "ready: DynamoDB tables "+tables["OHFP_DYNAMODB_TABLE_PREFIX"].(string)) || strings.Contains(out, "missing") {
		t.Fatalf("store init --check after init: exit %d\n%s%s", exit, out, errOut)
	}
	unreachable := e.writeConfig("unreachable.json", map[string]any{"OHFP_DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:1"})
	if _, errOut, exit := run(t, e.with("HF_CONFIG_PATH="+unreachable), "store", "init", "--check"); exit != 3 {
		t.Errorf("store init --check with DynamoDB unreachable: exit %d, want 3 (cloud)\n%s", exit, errOut)
	}

	available := func() int {
		t.Helper()
		tl, err := e.hf.Templates(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		return *tl.Templates[0].AvailableNumber
	}
	if got := available(); got != 10 {
		t.Errorf("availableNumber = %d, want 10", got)
	}
	reqID := e.request("OnDemand-Minimal", 3)
	req := e.wait(reqID)
	if req.Status != "complete" || len(req.Machines) != 3 {
		t.Fatalf("request ended %s with %d machines: %+v", req.Status, len(req.Machines), req)
	}
	if got := available(); got != 7 {
		t.Errorf("availableNumber with 3 out = %d, want 7", got)
	}
	retID := mustReturn(t, e, req.Machines)
	if ret := e.wait(retID); ret.Status != "complete" || len(ret.Machines) != 3 {
		t.Fatalf("return ended %s: %+v", ret.Status, ret)
	}
	rr, err := e.hf.ReturnRequests(e.ctx(), hostfactory.Hosts(req.Machines))
	if err != nil || len(rr.Requests) != 3 {
		t.Fatalf("getReturnRequests: %+v %v", rr, err)
	}
	if got := available(); got != 10 {
		t.Errorf("availableNumber after the return = %d, want 10", got)
	}

	// The state is in DynamoDB, and only there.
	if _, err := os.Stat(filepath.Join(e.root, "work", "ohfp.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an SQLite store was made in the work folder: %v", err)
	}
	st := openDynamo(t, tables)
	rs, err := st.GetRequests(e.ctx(), []string{reqID, retID})
	if err != nil || len(rs) != 2 || rs[0].State != store.StateComplete || rs[1].State != store.StateComplete {
		t.Fatalf("requests in DynamoDB: %+v %v", rs, err)
	}
	ms, err := st.Machines(e.ctx(), store.MachineQuery{RequestIDs: []string{reqID}})
	if err != nil || len(ms) != 3 {
		t.Fatalf("machines in DynamoDB: %+v %v", ms, err)
	}
	for _, m := range ms {
		if m.ReturnID != retID || m.State != "terminated" {
			t.Errorf("machine in DynamoDB after the return: %+v", m)
		}
	}
	checkTrail(t, "audit trail in DynamoDB", e.events("--request", retID),
		[2]string{"machines.returned", "requestReturnMachines"},
		[2]string{"request.finished", "getRequestStatus"},
	)
}

// TestTwoHostsShareDynamoDB plays a HostFactory master and its failover
// host on one DynamoDB: both poll and return machines of the same request,
// 100 calls at once in all. Every machine must be returned and terminated
// exactly once, and the store must end as the cloud is.
func TestTwoHostsShareDynamoDB(t *testing.T) {
	const machines, calls = 40, 100
	tables := dynamoTables(t)
	a := newEnv(t, sandbox.Options{ShutdownDelay: 200 * time.Millisecond}, []map[string]any{template("T", machines, nil)}, tables)
	if out, errOut, exit := run(t, a.hf.Env, "store", "init"); exit != 0 {
		t.Fatalf("store init: exit %d\n%s%s", exit, out, errOut)
	}
	b := a.otherHost()
	hosts := []*hostfactory.Host{a.hf, b}

	reqID := a.request("T", machines)
	req := a.wait(reqID)
	if req.Status != "complete" || len(req.Machines) != machines {
		t.Fatalf("request ended %s with %d machines", req.Status, len(req.Machines))
	}
	a.sb.ResetCalls()

	// Two calls in five return one machine, the others poll the create
	// request and every return made so far; each host runs its half of the
	// calls five at a time.
	var (
		mu      sync.Mutex
		returns []string
		wg      sync.WaitGroup
	)
	work := []chan int{make(chan int, calls), make(chan int, calls)}
	for i, next := 0, 0; i < calls; i++ {
		if i%5 < 2 {
			work[i%2] <- next
			next++
		} else {
			work[i%2] <- -1
		}
	}
	for h, host := range hosts {
		close(work[h])
		for range 5 {
			wg.Go(func() {
				for m := range work[h] {
					ctx := a.ctx()
					if m >= 0 {
						id, err := host.ReturnMachines(ctx, hostfactory.Hosts(req.Machines[m:m+1]))
						if err != nil {
							t.Errorf("host %d returning %s: %v", h, req.Machines[m].MachineID, err)
							continue
						}
						mu.Lock()
						returns = append(returns, id)
						mu.Unlock()
						continue
					}
					mu.Lock()
					ids := append([]string{reqID}, returns...)
					mu.Unlock()
					if _, err := host.Status(ctx, ids...); err != nil {
						t.Errorf("host %d polling %d requests: %v", h, len(ids), err)
					}
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if len(returns) != machines {
		t.Fatalf("%d returns made, want %d", len(returns), machines)
	}
	// Both hosts follow the returns to their end.
	for i, id := range returns {
		r, err := hosts[i%2].Wait(a.ctx(), id, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != "complete" || len(r.Machines) != 1 || r.Machines[0].Result != "succeed" {
			t.Errorf("return %s ended %+v", id, r)
		}
	}

	if n := a.sb.Calls()["ec2:TerminateInstances"]; n != machines {
		t.Errorf("TerminateInstances called %d times for %d machines returned once each", n, machines)
	}
	cloud := map[string]string{}
	for _, in := range a.instancesOf(reqID) {
		cloud[in.ID] = in.State
		if in.State != "terminated" {
			t.Errorf("instance %s is %s after its return", in.ID, in.State)
		}
	}
	st := openDynamo(t, tables)
	ms, err := st.Machines(a.ctx(), store.MachineQuery{RequestIDs: []string{reqID}})
	if err != nil || len(ms) != machines {
		t.Fatalf("machines in DynamoDB: %d, %v", len(ms), err)
	}
	rets, err := st.GetRequests(a.ctx(), returns)
	if err != nil || len(rets) != machines {
		t.Fatalf("return requests in DynamoDB: %d, %v", len(rets), err)
	}
	returnOf := map[string]string{}
	for _, r := range rets {
		if r.State != store.StateComplete || len(r.Machines) != 1 {
			t.Errorf("return request %s in DynamoDB: %s, %d machines", r.ID, r.State, len(r.Machines))
			continue
		}
		if other, twice := returnOf[r.Machines[0].InstanceID]; twice {
			t.Errorf("machine %s returned by %s and %s", r.Machines[0].InstanceID, other, r.ID)
		}
		returnOf[r.Machines[0].InstanceID] = r.ID
	}
	for _, m := range ms {
		if string(m.State) != cloud[m.InstanceID] || m.ReturnID == "" || m.ReturnID != returnOf[m.InstanceID] {
			t.Errorf("machine %s in DynamoDB: state %s (cloud: %s), return %q (want %q)",
				m.InstanceID, m.State, cloud[m.InstanceID], m.ReturnID, returnOf[m.InstanceID])
		}
	}
	for h, host := range hosts {
		tl, err := host.Templates(a.ctx())
		if err != nil {
			t.Fatal(err)
		}
		if got := *tl.Templates[0].AvailableNumber; got != machines {
			t.Errorf("host %d: availableNumber after every return = %d, want %d", h, got, machines)
		}
	}
}

// TestStoreMigrateSQLiteToDynamoDBAndBack moves 1,000 requests with
// `ohfp store migrate` from SQLite to DynamoDB and on to another SQLite
// file, and finds every field the same at each step.
func TestStoreMigrateSQLiteToDynamoDBAndBack(t *testing.T) {
	tables := dynamoTables(t)
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 10, nil)}, nil)
	path := filepath.Join(e.root, "work", "ohfp.db")
	if out, errOut, exit := run(t, e.hf.Env, "store", "init"); exit != 0 || !strings.Contains(out, "SQLite state store "+path+" is ready (schema version ") {
		t.Fatalf("store init of SQLite: exit %d\n%s%s", exit, out, errOut)
	}
	src, err := sqlite.Open(e.ctx(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	transfertest.Fill(t, src, 1000)
	_, machines := transfertest.Snapshot(t, src)
	events, err := src.Events(e.ctx(), store.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	// The facts: one cached, and the store's identity.
	verified := fmt.Sprintf("verified: 1000 requests, %d machines, %d events, 2 facts", len(machines), len(events))

	toDynamo := e.writeConfig("dynamodb.json", tables)
	manual := maps.Clone(tables)
	manual["OHFP_DYNAMODB_AUTO_CREATE"] = false
	toManual := e.writeConfig("dynamodb-manual.json", manual)
	if _, errOut, exit := run(t, e.hf.Env, "store", "migrate", "--to", toManual); exit != 1 || !strings.Contains(errOut, "ohfp store init") {
		t.Errorf("migrate to tables not made yet, auto_create off: exit %d, want 1 and a hint\n%s", exit, errOut)
	}
	if _, errOut, exit := run(t, e.with("HF_CONFIG_PATH="+toDynamo), "store", "init"); exit != 0 {
		t.Fatalf("store init: exit %d\n%s", exit, errOut)
	}
	out, errOut, exit := run(t, e.hf.Env, "store", "migrate", "--to", toDynamo)
	if exit != 0 || !strings.Contains(out, verified) {
		t.Fatalf("migrate SQLite -> DynamoDB: exit %d, want a line %q\n%s%s", exit, verified, out, errOut)
	}
	transfertest.Same(t, openDynamo(t, tables), src)

	fromDynamo := e.with("HF_CONFIG_PATH=" + toDynamo)
	if _, errOut, exit := run(t, fromDynamo, "store", "migrate", "--to", toDynamo); exit != 1 || !strings.Contains(errOut, "already") {
		t.Errorf("migrate onto itself: exit %d, want 1\n%s", exit, errOut)
	}
	back := e.writeConfig("back.json", map[string]any{"OHFP_SQLITE_PATH": "back.db"})
	out, errOut, exit = run(t, fromDynamo, "store", "migrate", "--to", back)
	if exit != 0 || !strings.Contains(out, verified) {
		t.Fatalf("migrate DynamoDB -> SQLite: exit %d, want a line %q\n%s%s", exit, verified, out, errOut)
	}
	dst, err := sqlite.Open(e.ctx(), filepath.Join(e.root, "work", "back.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	transfertest.Same(t, dst, src)
}

// TestHAExamplesLoad reads the high-availability examples as their provider
// instances would: two regions, a table prefix each, nothing ignored.
func TestHAExamplesLoad(t *testing.T) {
	examples := filepath.Join(scriptDir, "..", "examples", "ha")
	for _, c := range []struct{ name, file, region, prefix string }{
		{"awseast", "us-east-1/config.yml", "us-east-1", "hostfactory-east"},
		{"awswest", "us-west-2/config.yml", "us-west-2", "hostfactory-west"},
		{"awseast", "ibm/awseastprov_config.json", "us-east-1", "hostfactory-east"},
		{"awswest", "ibm/awswestprov_config.json", "us-west-2", "hostfactory-west"},
	} {
		path := filepath.Join(examples, c.file)
		env := map[string]string{
			"HF_PROVIDER_NAME": c.name, "HF_CONFIG_PATH": path,
			"HF_PROVIDER_CONFDIR": filepath.Dir(path), "HF_PROVIDER_WORKDIR": t.TempDir(),
		}
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		d := cfg.Storage.DynamoDB
		if cfg.Storage.Type != "dynamodb" || d.TablePrefix != c.prefix || d.Region != c.region || cfg.AWS.Region != c.region ||
			cfg.Storage.Retention != 30*24*time.Hour || len(cfg.Ignored) > 0 {
			t.Errorf("%s: storage %+v in %s, AWS region %s, ignored %v", c.file, cfg.Storage, d.Region, cfg.AWS.Region, cfg.Ignored)
		}
		if strings.HasSuffix(c.file, ".yml") && len(cfg.Templates) != 1 {
			t.Errorf("%s: %d templates, want 1", c.file, len(cfg.Templates))
		}
	}
}

// TestDoctorChecksDynamoDBTables: doctor touches the tables. It fails, with
// the command to run, when they are missing and auto_create is off; warns
// when the first use will create them; fails when the endpoint is not
// DynamoDB at all; and passes once `ohfp store init` made them. The first
// operation with auto_create on makes them too.
func TestDoctorChecksDynamoDBTables(t *testing.T) {
	tables := dynamoTables(t)
	tables["OHFP_DYNAMODB_AUTO_CREATE"] = false
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, tables)
	const check = "DynamoDB tables, indexes and TTL are as ohfp needs them"
	doctor := func(env []string) map[string]struct{ Status, Detail, Hint string } {
		t.Helper()
		out, _, _ := run(t, env, "doctor", "--json")
		var r struct {
			Checks []struct{ Name, Status, Detail, Hint string }
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, out)
		}
		got := map[string]struct{ Status, Detail, Hint string }{}
		for _, c := range r.Checks {
			got[c.Name] = struct{ Status, Detail, Hint string }{c.Status, c.Detail, c.Hint}
		}
		return got
	}
	c := doctor(e.hf.Env)[check]
	if c.Status != "fail" || !strings.Contains(c.Detail, "missing table "+tables["OHFP_DYNAMODB_TABLE_PREFIX"].(string)+"-requests") ||
		!strings.Contains(c.Hint, "ohfp store init") {
		t.Errorf("doctor without tables: %+v", c)
	}
	res := e.call("getAvailableTemplates", map[string]any{})
	if res.Exit != 1 || !strings.Contains(string(res.Stdout), "CONFIGURATION_ERROR") || !strings.Contains(string(res.Stdout), "HF_PROVIDER_NAME=awsinst") ||
		!strings.Contains(string(res.Stdout), "ohfp store init") {
		t.Errorf("first use without tables nor auto_create: exit %d %s", res.Exit, res.Stdout)
	}

	auto := e.writeConfig("auto.json", map[string]any{"OHFP_DYNAMODB_AUTO_CREATE": true})
	if c := doctor(e.with("HF_CONFIG_PATH=" + auto))[check]; c.Status != "warn" || !strings.Contains(c.Hint, "auto_create") {
		t.Errorf("doctor without tables, auto_create on: %+v", c)
	}
	elsewhere := e.writeConfig("elsewhere.json", map[string]any{"OHFP_DYNAMODB_ENDPOINT_URL": e.url})
	if c := doctor(e.with("HF_CONFIG_PATH=" + elsewhere))[check]; c.Status != "fail" || !strings.Contains(c.Hint, "did not answer as DynamoDB") {
		t.Errorf("doctor with the sandbox's EC2 endpoint as DynamoDB's: %+v", c)
	}

	input := filepath.Join(t.TempDir(), "input.json")
	if err := os.WriteFile(input, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, exit := run(t, e.with("HF_CONFIG_PATH="+auto), "hf", "getAvailableTemplates", "-f", input); exit != 0 {
		t.Fatalf("first use with auto_create: exit %d\n%s%s", exit, out, errOut)
	}
	if c := doctor(e.hf.Env)[check]; c.Status != "pass" {
		t.Errorf("doctor after the tables were created on first use: %+v", c)
	}
}
