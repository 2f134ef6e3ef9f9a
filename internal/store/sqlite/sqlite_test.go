package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
	"github.com/ohfp/ohfp/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	storetest.Run(t, func(t *testing.T, name string) store.Store {
		return openTest(t, filepath.Join(dir, name+".db"))
	})
}

// openTest opens the store at path and closes it when t ends.
func openTest(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// pragma reads one PRAGMA on a connection of s.
func pragma(t *testing.T, s *Store, name string) string {
	t.Helper()
	var v string
	if err := s.db.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestOpenNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "deeper", "ohfp.db")
	s := openTest(t, path)
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	if err := s.PutFact(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{
		filepath.Dir(path): 0o700 | os.ModeDir,
		path:               0o600,
		path + "-wal":      0o600,
		path + "-shm":      0o600,
	} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s mode = %v, want %v", p, fi.Mode(), want)
		}
	}
	for name, want := range map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"busy_timeout": fmt.Sprint(busyTimeout.Milliseconds()),
		"user_version": fmt.Sprint(len(migrations)),
	} {
		if got := pragma(t, s, name); got != want {
			t.Errorf("PRAGMA %s = %s, want %s", name, got, want)
		}
	}
	// A second open of a current store finds nothing to do and works.
	again := openTest(t, path)
	if got := pragma(t, again, "user_version"); got != fmt.Sprint(len(migrations)) {
		t.Errorf("reopened user_version = %s", got)
	}
}

// checkRefused fails unless Open(path) gives a configuration error naming
// path and saying each of says, and path keeps its bytes.
func checkRefused(t *testing.T, path string, says ...string) {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatalf("Open(%s) succeeded, want a configuration error", path)
	}
	if fault.CodeOf(err) != fault.Configuration {
		t.Errorf("Open error code = %s, want %s: %v", fault.CodeOf(err), fault.Configuration, err)
	}
	for _, want := range append(says, path) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open error %q does not say %q", err, want)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("Open changed the refused file %s", path)
	}
}

// rawExec runs statements on the file at path without this package.
func rawExec(t *testing.T, path string, statements ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range statements {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestOpenNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ohfp.db")
	openTest(t, path).Close()
	rawExec(t, path, "PRAGMA user_version = 99")
	checkRefused(t, path, "schema version 99", fmt.Sprintf("the %d this ohfp knows", len(migrations)))
}

func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ohfp.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a database\n"), 500), 0o600); err != nil {
		t.Fatal(err)
	}
	checkRefused(t, path, "not an SQLite database or is corrupt")
}

func TestOpenOtherDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	rawExec(t, path, "CREATE TABLE notes (body TEXT)", "INSERT INTO notes VALUES ('mine')")
	checkRefused(t, path, "something else than ohfp")
}

func TestOpenUnwritableDirectory(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(blocker, "ohfp.db")
	_, err := Open(t.Context(), path)
	if fault.CodeOf(err) != fault.Configuration || !strings.Contains(fmt.Sprint(err), path) {
		t.Errorf("Open under a file = %v, want a configuration error naming %s", err, path)
	}
}

// Machines must belong to a stored request: the schema holds it.
func TestSaveMachinesUnknownRequest(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "ohfp.db"))
	r := &store.Request{ID: "req-1", Kind: store.KindCreate, TemplateID: "t", State: store.StateRunning}
	if err := s.CreateRequest(t.Context(), r, nil); err != nil {
		t.Fatal(err)
	}
	good := store.Machine{InstanceID: "i-good", RequestID: "req-1"}
	for _, bad := range []store.Machine{
		{InstanceID: "i-bad", RequestID: "nope"},
		{InstanceID: "i-bad", RequestID: "req-1", ReturnID: "nope"},
	} {
		err := s.SaveMachines(t.Context(), []store.Machine{good, bad})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SaveMachines(%+v) = %v, want ErrNotFound", bad, err)
		}
	}
	if got, err := s.Machines(t.Context(), store.MachineQuery{RequestIDs: []string{"req-1"}}); err != nil || len(got) != 0 {
		t.Errorf("after refused saves Machines = %v, %v; want none", got, err)
	}
}

// benchStore is a store holding one request with n machines.
func benchStore(b *testing.B, n int) (*Store, []store.Machine) {
	s := openTest(b, filepath.Join(b.TempDir(), "ohfp.db"))
	r := &store.Request{ID: "req-1", Kind: store.KindCreate, TemplateID: "t", State: store.StateRunning}
	if err := s.CreateRequest(b.Context(), r, nil); err != nil {
		b.Fatal(err)
	}
	ms := make([]store.Machine, n)
	at := time.Now()
	for i := range ms {
		id := fmt.Sprintf("i-%017x", i)
		ms[i] = store.Machine{
			InstanceID: id, RequestID: "req-1", TemplateID: "t", Name: "ip-" + id + ".ec2.internal",
			PrivateIP: "10.0.0.1", State: "running", Result: store.ResultSucceed,
			InstanceType: "m5.large", PriceType: "ondemand", LaunchTime: at, UpdatedAt: at,
		}
	}
	if err := s.SaveMachines(b.Context(), ms); err != nil {
		b.Fatal(err)
	}
	return s, ms
}

func BenchmarkSaveMachines1000(b *testing.B) {
	s, ms := benchStore(b, 1000)
	for b.Loop() {
		if err := s.SaveMachines(b.Context(), ms); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMachines1000(b *testing.B) {
	s, _ := benchStore(b, 1000)
	q := store.MachineQuery{RequestIDs: []string{"req-1"}}
	for b.Loop() {
		got, err := s.Machines(b.Context(), q)
		if err != nil || len(got) != 1000 {
			b.Fatalf("Machines = %d, %v", len(got), err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	s, _ := benchStore(b, 10)
	for b.Loop() {
		o, err := Open(b.Context(), s.Path())
		if err != nil {
			b.Fatal(err)
		}
		if err := o.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// made opens a new store at path, records a request, and closes it.
func made(t *testing.T, path string) {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	r := store.Request{ID: "req-1", Kind: store.KindCreate, TemplateID: "t", MachineCount: 1, State: store.StateRunning}
	if err := s.CreateRequest(t.Context(), &r, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// A store that was truncated, lost while its write-ahead log or identity
// file remains, or is corrupt is refused and left as it is; only Init sets
// it aside and makes a new one.
func TestDamagedStoresAreRefused(t *testing.T) {
	cases := []struct {
		name, says string
		damage     func(t *testing.T, path string)
	}{
		{"empty file", "is empty (0 bytes)", func(t *testing.T, path string) { os.Truncate(path, 0) }},
		{"missing, identity file left", "is missing, but", func(t *testing.T, path string) { os.Remove(path) }},
		{"missing, write-ahead log left", "is missing while its write-ahead log", func(t *testing.T, path string) {
			os.Remove(path)
			os.Remove(path + MarkerSuffix)
			os.WriteFile(path+"-wal", []byte("log"), 0o600)
		}},
		{"corrupt", "is not an SQLite database or is corrupt", func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Repeat([]byte("garbage!"), 1024), 0o600)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ohfp.db")
			made(t, path)
			marker, _ := os.ReadFile(path + MarkerSuffix)
			if !bytes.Contains(marker, []byte(`"created"`)) {
				t.Fatalf("identity file holds %q", marker)
			}
			c.damage(t, path)
			before, beforeErr := os.ReadFile(path)
			_, err := Open(t.Context(), path)
			if !errors.Is(err, ErrDamaged) || fault.CodeOf(err) != fault.Configuration || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), "ohfp store init") {
				t.Fatalf("Open: %v", err)
			}
			after, afterErr := os.ReadFile(path)
			if !bytes.Equal(before, after) || (beforeErr == nil) != (afterErr == nil) {
				t.Fatal("Open changed the refused store")
			}

			s, aside, err := Init(t.Context(), path, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if len(aside) == 0 || !strings.HasSuffix(aside[0], ".damaged-20261201T080000Z") {
				t.Fatalf("set aside %v", aside)
			}
			if beforeErr == nil {
				if kept, _ := os.ReadFile(aside[0]); !bytes.Equal(kept, before) {
					t.Fatal("the damaged store was not kept as it was")
				}
			}
			if rs, err := s.ListRequests(t.Context(), store.RequestQuery{}); err != nil || len(rs) != 0 {
				t.Fatalf("the new store holds %v, %v", rs, err)
			}
		})
	}
}

// Many processes opening a store that does not exist yet make one store,
// and agree on its identity; none sees it half made.
func TestConcurrentFirstOpens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "work", "ohfp.db")
	ids := make([]string, 16)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			s, err := Open(context.Background(), path)
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			id, err := store.Identify(context.Background(), s, "", time.Now())
			if err != nil {
				t.Error(err)
			}
			ids[i] = id.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == "" {
			t.Fatalf("identities %v", ids)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".ohfp.db.new-*")); len(leftovers) != 0 {
		t.Fatalf("left behind: %v", leftovers)
	}
}

// A store from before identities dates from its oldest request.
func TestIdentityOfAnOlderStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ohfp.db")
	old := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	// A store as schema version 3 left it, with one request.
	qs := append(slices.Clone(migrations[:3]),
		fmt.Sprintf(`INSERT INTO requests (id, kind, template_id, machine_count, outstanding, rc_account, client_token, cloud_ref, state, message, created_at, updated_at, version)
			VALUES ('req-1', 'create', 't', 1, 1, '', '', '', 'running', '', %d, %d, 1)`, old.UnixNano(), old.UnixNano()),
		"PRAGMA user_version = 3")
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s := openTest(t, path)
	id, err := store.Identify(t.Context(), s, "inst-1", time.Now())
	if err != nil || !id.Created.Equal(old) || id.Installation != "inst-1" {
		t.Fatalf("identity %+v, %v; want created %v", id, err, old)
	}
	if _, err := os.Stat(path + MarkerSuffix); err != nil {
		t.Fatalf("no identity file after the upgrade: %v", err)
	}
}

// Requests stored before secrets stayed out of the store lose them on the
// upgrade: LSF's userData, and the values of the template's userData.
func TestOlderRequestsLoseTheirSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ohfp.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	r := store.Request{ID: "req-1", Kind: store.KindCreate, TemplateID: "t", MachineCount: 1, State: store.StateRunning,
		Template: []byte(`{"templateId":"t","maxNumber":3,"userData":"DB_PASSWORD=hunter2"}`), UserData: []byte(`{"token":"s3cret"}`)}
	if err := s.CreateRequest(t.Context(), &r, nil); err != nil {
		t.Fatal(err)
	}
	// Back to schema version 6: undo migrations 8 and 9 too (7 changes no schema).
	for _, q := range []string{"ALTER TABLE machines DROP COLUMN listed_at", "ALTER TABLE requests DROP COLUMN tags", "PRAGMA user_version = 6"} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = openTest(t, path)
	got, err := s.GetRequests(t.Context(), []string{"req-1"})
	if err != nil || len(got) != 1 {
		t.Fatal(err)
	}
	if got[0].UserData != nil || !strings.Contains(string(got[0].Template), `"userData":"(not stored)"`) || strings.Contains(string(got[0].Template), "hunter2") ||
		!strings.Contains(string(got[0].Template), `"maxNumber":3`) {
		t.Fatalf("after the upgrade: template %s, user data %s", got[0].Template, got[0].UserData)
	}
}

// A store on a full disk opens read-only: reads answer, writes fail saying
// why, store init sets nothing aside, and the file is left sound; once
// space is freed, it opens for writing again.
func TestFullDiskOpensReadOnly(t *testing.T) {
	dir := t.TempDir()
	storetest.SmallDisk(t, dir, 1<<20)
	path := filepath.Join(dir, "ohfp.db")
	request := func(id string) *store.Request {
		return &store.Request{ID: id, Kind: store.KindCreate, TemplateID: "T", MachineCount: 1, State: store.StatePending, ClientToken: id}
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRequest(t.Context(), request("req-1"), nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	free := storetest.FillDisk(t, dir)

	ro, err := Open(t.Context(), path)
	if err != nil || ro.Unwritable() == nil {
		t.Fatalf("Open on a full disk: %v, unwritable %v", err, ro)
	}
	if rs, err := ro.ListRequests(t.Context(), store.RequestQuery{}); err != nil || len(rs) != 1 {
		t.Fatalf("reading on a full disk: %v, %v", rs, err)
	}
	if err := ro.CreateRequest(t.Context(), request("req-2"), nil); err == nil || !strings.Contains(err.Error(), "cannot be written") {
		t.Fatalf("writing on a full disk: %v", err)
	}
	ro.Close()
	if _, aside, err := Init(t.Context(), path, time.Now()); err == nil || len(aside) != 0 {
		t.Fatalf("store init on a full disk: set aside %v, %v", aside, err)
	}

	free()
	s, err = Open(t.Context(), path)
	if err != nil || s.Unwritable() != nil {
		t.Fatalf("Open once space is freed: %v, %v", err, s.Unwritable())
	}
	defer s.Close()
	if pragma(t, s, "integrity_check") != "ok" {
		t.Fatal("the store is damaged")
	}
	if err := s.CreateRequest(t.Context(), request("req-2"), nil); err != nil {
		t.Fatal(err)
	}
}

// While another process holds the store open (ohfp serve), SQLite needs no
// new space to open it again on a full disk: it opens for writing, writes
// fail, and an identity file that cannot be written (a store older than
// identity files) is no reason to refuse the store; it is written once
// there is room.
func TestFullDiskWhileOpenElsewhere(t *testing.T) {
	dir := t.TempDir()
	storetest.SmallDisk(t, dir, 1<<20)
	path := filepath.Join(dir, "ohfp.db")
	held, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	r := &store.Request{ID: "req-1", Kind: store.KindCreate, TemplateID: "T", MachineCount: 1, State: store.StatePending, ClientToken: "req-1"}
	if err := held.CreateRequest(t.Context(), r, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path + MarkerSuffix); err != nil {
		t.Fatal(err)
	}
	free := storetest.FillDisk(t, dir)

	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open on a full disk while the store is open elsewhere: %v", err)
	}
	if rs, err := s.ListRequests(t.Context(), store.RequestQuery{}); err != nil || len(rs) != 1 {
		t.Fatalf("reading on a full disk: %v, %v", rs, err)
	}
	r2 := &store.Request{ID: "req-2", Kind: store.KindCreate, TemplateID: "T", MachineCount: 1, State: store.StatePending, ClientToken: "req-2"}
	if err := s.CreateRequest(t.Context(), r2, nil); err == nil {
		t.Fatal("a write went through on a full disk")
	}
	s.Close()

	free()
	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(path + MarkerSuffix); err != nil {
		t.Fatalf("identity file once there is room: %v", err)
	}
	if pragma(t, s, "integrity_check") != "ok" {
		t.Fatal("the store is damaged")
	}
}
