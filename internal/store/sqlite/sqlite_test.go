package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
