package e2e

import (
	"database/sql"
	"encoding/json"
	"errors"
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

// running counts the sandbox's instances that are running, of all there are.
func running(e *env) (up, all int) {
	for _, in := range e.sb.Instances() {
		if in.State == "running" {
			up++
		}
	}
	return up, len(e.sb.Instances())
}

// plan is what `ohfp reconcile -o json` prints.
type plan struct {
	Checked, Adopted, Terminated, Waiting, Budget, Kept int
	Installations                                       []string `json:"other_installations"`
	Elsewhere                                           int      `json:"their_instances"`
	Untagged, Claimed                                   []string
	Instances                                           []struct {
		InstanceID     string `json:"instance_id"`
		Action, Reason string
	}
}

// kept lists the instances a pass kept at its budget.
func (p plan) kept() []string {
	var ids []string
	for _, in := range p.Instances {
		if in.Action == "kept" {
			ids = append(ids, in.InstanceID)
		}
	}
	return ids
}

// reconcile runs `ohfp reconcile` with args and decodes its plan.
func (e *env) reconcile(args ...string) (rec plan, stderr string, exit int) {
	e.t.Helper()
	out, stderr, exit := run(e.t, e.hf.Env, append([]string{"reconcile", "-o", "json"}, args...)...)
	if exit == 0 || exit == 4 {
		if err := json.Unmarshal([]byte(out), &rec); err != nil {
			e.t.Fatalf("reconcile printed %q: %v", out, err)
		}
	}
	return rec, stderr, exit
}

// The state file truncated to 0 bytes under a running grid: every call is
// refused with CONFIGURATION_ERROR and nothing is terminated; once the
// operator makes a new store with `ohfp store init`, reconcile adopts every
// host (older than the new store), HostFactory's requests answer again
// with their machines, and the hosts hold their template's slots.
func TestZeroByteStoreLosesNoHost(t *testing.T) {
	e := newEnv(t, sandbox.Options{Now: behind(time.Hour)}, []map[string]any{template("web", 20, nil)}, nil)
	ids := []string{e.request("web", 4), e.request("web", 3)}
	for _, id := range ids {
		if r := e.wait(id); r.Status != "complete" {
			t.Fatalf("request %s ended %s", id, r.Status)
		}
	}
	up, _ := running(e)
	db := filepath.Join(e.root, "work", "ohfp.db")
	if err := os.Truncate(db, 0); err != nil { // an operator's `> ohfp.db`
		t.Fatal(err)
	}

	poll := map[string]any{"requests": []map[string]string{{"requestId": ids[0]}, {"requestId": ids[1]}}}
	for op, input := range map[string]any{"getRequestStatus": poll, "getReturnRequests": map[string]any{"machines": []any{}}, "getAvailableTemplates": map[string]any{}} {
		if out := e.failure(op, input, 1); out.Error.Code != "CONFIGURATION_ERROR" || !strings.Contains(out.Message, "is empty (0 bytes)") {
			t.Fatalf("%s on the empty store: %+v", op, out)
		}
	}
	if _, stderr, exit := e.reconcile(); exit != 1 || !strings.Contains(stderr, "ohfp store init") {
		t.Fatalf("reconcile on the empty store: exit %d: %s", exit, stderr)
	}
	if fi, err := os.Stat(db); err != nil || fi.Size() != 0 {
		t.Fatalf("the refused store was touched: %v %v", fi, err)
	}
	if now, _ := running(e); now != up {
		t.Fatalf("%d of %d hosts left running while the store was refused", now, up)
	}

	out, stderr, exit := run(t, e.hf.Env, "store", "init")
	if exit != 0 || !strings.Contains(out, "set aside") {
		t.Fatalf("store init: exit %d: %s %s", exit, out, stderr)
	}
	rec, stderr, exit := e.reconcile()
	if exit != 0 || rec.Adopted != up || rec.Terminated != 0 {
		t.Fatalf("reconcile after store init: exit %d, %+v: %s", exit, rec, stderr)
	}
	var st hostfactory.Status
	if res := e.call("getRequestStatus", poll); res.Exit != 0 || hostfactory.Decode(res.Stdout, &st) != nil {
		t.Fatalf("poll after the adoption: %s", res.Stdout)
	}
	reported := 0
	for _, r := range st.Requests {
		for _, m := range r.Machines {
			if m.Result == "succeed" {
				reported++
			}
		}
	}
	tl, err := e.hf.Templates(e.ctx())
	if err != nil || tl.Templates[0].AvailableNumber == nil || *tl.Templates[0].AvailableNumber != 20-up {
		t.Fatalf("templates after the adoption: %+v, %v", tl, err)
	}
	after, all := running(e)
	if reported != up || after != up || all != up {
		t.Fatalf("%d hosts reported, %d running of %d, want %d", reported, after, all, up)
	}
	events, _, _ := run(t, e.hf.Env, "events", "list", "-o", "json")
	if strings.Count(events, "request.restored") != 2 || strings.Count(events, "machine.adopted") != up {
		t.Fatalf("audit trail after the adoption:\n%s", events)
	}
	t.Logf("hosts alive before %d, after %d; adopted %d, requests rebuilt 2, reported to HostFactory %d, terminated 0", up, after, rec.Adopted, reported)
}

// sibling installs a second provider instance with the same provider name
// on e's sandbox, with an installation id of its own: a dev cluster beside
// prod, both using IBM's default name.
func (e *env) sibling() *env {
	e.t.Helper()
	b, err := os.ReadFile(e.confFile("awsinstprov_config.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	tmpl, err := os.ReadFile(e.confFile("awsinstprov_templates.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	root := e.t.TempDir()
	host, err := hostfactory.Provider{Name: "awsinst", ScriptDir: scriptDir, Binary: binary,
		Config: json.RawMessage(b), Templates: json.RawMessage(tmpl)}.Install(root)
	if err != nil {
		e.t.Fatal(err)
	}
	return &env{t: e.t, sb: e.sb, url: e.url, root: root, hf: host}
}

// Two installations that both call themselves awsinst in one account and
// region: each reconciles, and neither terminates the other's hosts, which
// it sees, reports and leaves alone.
func TestTwoInstallationsShareAProviderName(t *testing.T) {
	prod := newEnv(t, sandbox.Options{Now: behind(3 * time.Minute)}, []map[string]any{template("web", 20, nil)}, map[string]any{"INSTANCE_CREATION_TIMEOUT": 1})
	dev := prod.sibling()
	for _, c := range []struct {
		e *env
		n int
	}{{prod, 6}, {dev, 5}} {
		if r := c.e.wait(c.e.request("web", c.n)); r.Status != "complete" {
			t.Fatalf("request ended %s", r.Status)
		}
	}
	up, _ := running(prod)
	for _, c := range []struct {
		name        string
		e           *env
		own, others int
	}{{"prod", prod, 6, 5}, {"dev", dev, 5, 6}} {
		rec, stderr, exit := c.e.reconcile()
		if exit != 0 || rec.Checked != c.own || rec.Elsewhere != c.others || len(rec.Installations) != 1 || rec.Terminated != 0 {
			t.Fatalf("%s reconcile: exit %d, %+v: %s", c.name, exit, rec, stderr)
		}
		log, _ := os.ReadFile(filepath.Join(c.e.root, "log", "ohfp.log"))
		if !strings.Contains(string(log), "another installation uses the provider name awsinst in this account and region") {
			t.Fatalf("%s logged no warning", c.name)
		}
		doctor, _, _ := run(t, c.e.hf.Env, "doctor")
		if !strings.Contains(doctor, "another installation uses the provider name awsinst in this account and region") {
			t.Fatalf("%s doctor:\n%s", c.name, doctor)
		}
		// The periodic pass inside getReturnRequests leaves them alone too.
		c.e.call("getReturnRequests", map[string]any{"machines": []any{}})
	}
	after, all := running(prod)
	if after != up || all != 11 {
		t.Fatalf("%d of %d hosts running after both reconciled, want all 11", after, all)
	}
	t.Logf("hosts alive before %d, after %d (prod 6, dev 5); terminated 0", up, after)
}

// An unknown population above the termination budget: reconcile stops,
// terminates nothing, exits 4, logs an ERROR naming the instances and
// records an audit event; --force then goes past it.
func TestReconcileStopsAtTheBudget(t *testing.T) {
	e := newEnv(t, sandbox.Options{Now: behind(3 * time.Minute)}, []map[string]any{template("web", 40, nil)}, map[string]any{"INSTANCE_CREATION_TIMEOUT": 1})
	keep := e.wait(e.request("web", 2))
	lost := e.request("web", 25)
	if r := e.wait(lost); r.Status != "complete" || keep.Status != "complete" {
		t.Fatalf("requests ended %s, %s", keep.Status, r.Status)
	}
	// The store loses one request and its hosts (restored from an older
	// backup, say); it still holds the other, so it is not a new store.
	forget(t, filepath.Join(e.root, "work", "ohfp.db"), lost)

	rec, stderr, exit := e.reconcile()
	if exit != 4 || rec.Kept != 25 || len(rec.kept()) != 25 || rec.Budget != 20 || rec.Terminated != 0 || !strings.Contains(stderr, "--force") {
		t.Fatalf("reconcile: exit %d, %+v: %s", exit, rec, stderr)
	}
	if up, all := running(e); up != 27 || all != 27 {
		t.Fatalf("%d of %d running after the stop", up, all)
	}
	log, _ := os.ReadFile(filepath.Join(e.root, "log", "ohfp.log"))
	if !strings.Contains(string(log), `"level":"ERROR","msg":"reconcile stopped at the termination budget"`) || !strings.Contains(string(log), rec.kept()[0]) {
		t.Fatalf("no ERROR naming the instances in the log")
	}
	events, _, _ := run(t, e.hf.Env, "events", "list", "-o", "json")
	if !strings.Contains(events, "reconcile.stopped") {
		t.Fatalf("no audit event:\n%s", events)
	}
	t.Logf("unknown instances %d, budget %d of %d live: terminated 0, exit %d", rec.Kept, rec.Budget, rec.Checked, exit)

	// On a terminal it shows the plan and asks: only yes goes on.
	for _, c := range []struct {
		answer string
		exit   int
		up     int
	}{{"no", 4, 27}, {"yes", 0, 2}} {
		plan, exit := e.onTerminal(c.answer, "reconcile")
		if exit != c.exit || !strings.Contains(plan, "Reconcile would terminate 25 instances") || !strings.Contains(plan, rec.kept()[0]) {
			t.Fatalf("reconcile on a terminal, answered %s: exit %d:\n%s", c.answer, exit, plan)
		}
		if up, _ := running(e); up != c.up {
			t.Fatalf("%d running after answering %s, want %d", up, c.answer, c.up)
		}
	}

	// --force goes past the budget without asking.
	lost = e.request("web", 21)
	if r := e.wait(lost); r.Status != "complete" {
		t.Fatalf("request ended %s", r.Status)
	}
	forget(t, filepath.Join(e.root, "work", "ohfp.db"), lost)
	rec, stderr, exit = e.reconcile("--force")
	if exit != 0 || rec.Terminated != 21 {
		t.Fatalf("reconcile --force: exit %d, %+v: %s", exit, rec, stderr)
	}
	if up, _ := running(e); up != 2 {
		t.Fatalf("%d running after --force, want the 2 the store knows", up)
	}
}

// onTerminal runs ohfp with args on a terminal (util-linux script gives
// it one), typing answer, and returns what the terminal showed.
func (e *env) onTerminal(answer string, args ...string) (screen string, exit int) {
	e.t.Helper()
	line := strconv.Quote(binary)
	for _, a := range args {
		line += " " + strconv.Quote(a)
	}
	cmd := exec.Command("script", "--quiet", "--return", "--command", line, "/dev/null")
	cmd.Env = e.hf.Env
	cmd.Stdin = strings.NewReader(answer + "\n")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		e.t.Fatalf("script: %v", err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// forget deletes a request and its machines from the SQLite store at path.
func forget(t *testing.T, path, requestID string) {
	t.Helper()
	st, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, q := range []string{"DELETE FROM machines WHERE request_id = ?", "DELETE FROM requests WHERE id = ?"} {
		if _, err := st.Exec(q, requestID); err != nil {
			t.Fatal(err)
		}
	}
	var left int
	if err := st.QueryRow("SELECT count(*) FROM requests").Scan(&left); err != nil || left == 0 {
		t.Fatalf("the store holds %d requests (%v)", left, err)
	}
}

// A return whose name and machineId name different hosts terminates
// neither: that entry is answered failed with the reason, through the
// scripts, and the return ends complete_with_error.
func TestReturnWithMismatchedNameAndID(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("web", 5, nil)}, nil)
	ms := e.wait(e.request("web", 2)).Machines
	retID, err := e.hf.ReturnMachines(e.ctx(), []hostfactory.HostRef{{Name: ms[0].Name, MachineID: ms[1].MachineID}})
	if err != nil {
		t.Fatal(err)
	}
	ret := e.wait(retID)
	if ret.Status != "complete_with_error" || len(ret.Machines) != 1 || ret.Machines[0].Result != "fail" ||
		!strings.Contains(ret.Machines[0].Message, "name different hosts") {
		t.Fatalf("return ended %+v", ret)
	}
	if up, all := running(e); up != 2 || all != 2 {
		t.Fatalf("%d of %d hosts running after the refused return", up, all)
	}
}

// Hosts HostFactory itself returned are no reclaims: getReturnRequests
// still reports them gone while HostFactory lists them, but they count
// neither in ohfp_reclaims_total nor on the dashboard nor in the audit
// trail; a host terminated behind HostFactory's back does.
func TestReturnedHostsAreNoReclaims(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("web", 5, nil)}, nil)
	url := e.serve()
	ms := e.wait(e.request("web", 3)).Machines
	retID, err := e.hf.ReturnMachines(e.ctx(), hostfactory.Hosts(ms[:2]))
	if err != nil {
		t.Fatal(err)
	}
	if r := e.wait(retID); r.Status != "complete" {
		t.Fatalf("return ended %s", r.Status)
	}
	e.terminate(ms[2].MachineID) // from the console
	gone, err := e.hf.ReturnRequests(e.ctx(), hostfactory.Hosts(ms))
	if err != nil || len(gone.Requests) != 3 {
		t.Fatalf("getReturnRequests %+v, %v; want the 3 hosts gone", gone, err)
	}
	if got := metrics(t, url)["ohfp_reclaims_total{}"]; got != 1 {
		t.Fatalf("ohfp_reclaims_total = %v, want 1 (the host taken from the console)", got)
	}
	var raw json.RawMessage
	rest(t, "GET", url+"/api/v1/overview", "", 200, &raw)
	var ov struct{ Reclaims []struct{ MachineID string } }
	if err := json.Unmarshal(raw, &ov); err != nil {
		t.Fatal(err)
	}
	if len(ov.Reclaims) != 1 || ov.Reclaims[0].MachineID != ms[2].MachineID {
		t.Fatalf("dashboard reclaims %+v", ov.Reclaims)
	}
	events, _, _ := run(t, e.hf.Env, "events", "list", "-o", "json")
	if n := strings.Count(events, `"reclaim"`); n != 1 {
		t.Fatalf("%d reclaim events, want 1:\n%s", n, events)
	}
}
