package e2e

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
	"github.com/ohfp/ohfp/internal/store/storetest"
)

// The disk of the work folder fills up under a running grid: what only
// reads still answers (the templates, the status of a finished request);
// a request, a return and a reconcile that would terminate two hosts the
// store lost are refused, since none could be recorded first; nothing is
// launched or terminated, the log says why, and the store is sound; so
// too when the log's disk is full as well. Once space is freed, all goes
// on.
func TestFullDiskChangesNothing(t *testing.T) {
	e := newEnv(t, sandbox.Options{Now: behind(3 * time.Minute)}, []map[string]any{template("web", 20, nil)},
		map[string]any{"INSTANCE_CREATION_TIMEOUT": 1})
	work := filepath.Join(e.root, "work")
	storetest.SmallDisk(t, work, 4<<20)
	done := e.wait(e.request("web", 3))
	lost := e.request("web", 2)
	if r := e.wait(lost); r.Status != "complete" || done.Status != "complete" {
		t.Fatalf("requests ended %s, %s", done.Status, r.Status)
	}
	db := filepath.Join(work, "ohfp.db")
	forget(t, db, lost) // its 2 hosts are now unknown, and older than INSTANCE_CREATION_TIMEOUT
	up, _ := running(e)
	free := storetest.FillDisk(t, work)

	if tl, err := e.hf.Templates(e.ctx()); err != nil || len(tl.Templates) != 1 || *tl.Templates[0].AvailableNumber != 17 {
		t.Fatalf("getAvailableTemplates on a full disk: %+v, %v", tl, err)
	}
	if st, err := e.hf.Status(e.ctx(), done.RequestID); err != nil || st.Requests[0].Status != "complete" || len(st.Requests[0].Machines) != 3 {
		t.Fatalf("getRequestStatus of a finished request on a full disk: %+v, %v", st, err)
	}
	refused := 0
	for op, input := range map[string]any{
		"requestMachines":       map[string]any{"template": map[string]any{"templateId": "web", "machineCount": 1}},
		"requestReturnMachines": map[string]any{"machines": hostfactory.Hosts(done.Machines)},
	} {
		if res := e.call(op, input); res.Exit == 0 {
			t.Errorf("%s went on while the store could not be written: %s", op, res.Stdout)
		} else {
			refused++
			t.Logf("%s: exit %d: %s", op, res.Exit, res.Stdout)
		}
	}
	res := e.call("getReturnRequests", map[string]any{"machines": hostfactory.Hosts(done.Machines)})
	t.Logf("getReturnRequests: exit %d: %s", res.Exit, res.Stdout)
	if rec, stderr, exit := e.reconcile(); exit == 0 || rec.Terminated != 0 {
		t.Errorf("reconcile on a full disk: exit %d, %+v: %s", exit, rec, stderr)
	} else {
		refused++
	}
	after, all := running(e)
	if after != up || all != up {
		t.Fatalf("%d of %d hosts running on the full disk, want all %d and nothing launched", after, all, up)
	}
	log, _ := os.ReadFile(filepath.Join(e.root, "log", "ohfp.log"))
	if !strings.Contains(string(log), "the state store cannot be written") {
		t.Fatalf("the log does not say why nothing was terminated:\n%s", log)
	}

	// The log's disk fills up too (both under /var, say): the answers
	// stay the same, unlogged.
	logs := filepath.Join(e.root, "log")
	storetest.SmallDisk(t, logs, 1<<20)
	storetest.FillDisk(t, logs)
	if tl, err := e.hf.Templates(e.ctx()); err != nil || len(tl.Templates) != 1 {
		t.Fatalf("getAvailableTemplates with the log's disk full too: %+v, %v", tl, err)
	}
	if st, err := e.hf.Status(e.ctx(), done.RequestID); err != nil || st.Requests[0].Status != "complete" {
		t.Fatalf("getRequestStatus with the log's disk full too: %+v, %v", st, err)
	}
	if res := e.call("requestReturnMachines", map[string]any{"machines": hostfactory.Hosts(done.Machines)}); res.Exit == 0 {
		t.Fatalf("a return went on with the log's disk full too: %s", res.Stdout)
	}
	if now, all := running(e); now != up || all != up {
		t.Fatalf("%d of %d hosts running with the log's disk full too, want all %d", now, all, up)
	}

	free()
	var check string
	if err := sqlOpen(t, db).QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity check after the full disk: %q, %v", check, err)
	}
	if st, err := e.hf.Status(e.ctx(), done.RequestID); err != nil || st.Requests[0].Status != "complete" || len(st.Requests[0].Machines) != 3 {
		t.Fatalf("getRequestStatus once space is freed: %+v, %v", st, err)
	}
	rec, stderr, exit := e.reconcile()
	if exit != 0 || rec.Terminated != 2 {
		t.Fatalf("reconcile once space is freed: exit %d, %+v: %s", exit, rec, stderr)
	}
	t.Logf("full disk: hosts alive before %d, after %d; launched 0, terminated 0; refused %d changes (request, return, reconcile); reads answered 2; store integrity %s; then reconcile terminated %d",
		up, after, refused, check, rec.Terminated)
}

// sqlOpen opens the SQLite file at path for inspection.
func sqlOpen(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
