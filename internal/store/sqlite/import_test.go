package sqlite

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/store"
)

func TestImportKeepsWhatItIsGiven(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "ohfp.db"))
	created := time.Date(2026, 3, 1, 8, 0, 0, 7, time.UTC)
	r := store.Request{
		ID: "req-1", Kind: store.KindCreate, TemplateID: "T", Template: []byte(`{}`), MachineCount: 1,
		State: store.StateComplete, Message: "done", CreatedAt: created, UpdatedAt: created.Add(time.Minute), Version: 42,
	}
	ret := store.Request{
		ID: "ret-1", Kind: store.KindReturn, Machines: []store.MachineRef{{Name: "host-a", InstanceID: "i-1"}},
		State: store.StateRunning, CreatedAt: created.Add(time.Hour), UpdatedAt: created.Add(time.Hour), Version: 3,
	}
	m := store.Machine{
		InstanceID: "i-1", RequestID: "req-1", ReturnID: "ret-1", TemplateID: "T", Name: "host-a",
		State: "shutting-down", Result: store.ResultSucceed, LaunchTime: created, UpdatedAt: created.Add(2 * time.Hour),
	}
	if err := s.Import(ctx, []store.Request{ret, r}, []store.Machine{m}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRequests(ctx, []string{"req-1", "ret-1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.Request{r, ret}; !reflect.DeepEqual(got, want) {
		t.Errorf("imported requests:\n got %+v\nwant %+v", got, want)
	}
	ms, err := s.Machines(ctx, store.MachineQuery{InstanceIDs: []string{"i-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.Machine{m}; !reflect.DeepEqual(ms, want) {
		t.Errorf("imported machines:\n got %+v\nwant %+v", ms, want)
	}

	// Importing again replaces, version and all.
	r.State, r.Version = store.StateFailed, 7
	if err := s.Import(ctx, []store.Request{r}, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetRequests(ctx, []string{"req-1"}); len(got) != 1 || !reflect.DeepEqual(got[0], r) {
		t.Errorf("re-imported request = %+v, want %+v", got, r)
	}
}

func TestImportRefusesMachinesOfUnknownRequests(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "ohfp.db"))
	r := store.Request{ID: "req-1", Kind: store.KindCreate, TemplateID: "T", State: store.StateRunning, Version: 1}
	orphan := store.Machine{InstanceID: "i-9", RequestID: "req-gone", TemplateID: "T", State: "running"}
	err := s.Import(ctx, []store.Request{r}, []store.Machine{orphan})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("import of an orphan machine: %v, want ErrNotFound", err)
	}
	if got, _ := s.GetRequests(ctx, []string{"req-1"}); len(got) != 0 {
		t.Errorf("a failed import left %+v", got)
	}
}

func TestAllFacts(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "ohfp.db"))
	got, err := s.AllFacts(ctx)
	identity := got[store.IdentityFact]
	if err != nil || len(got) != 1 || len(identity) == 0 {
		t.Fatalf("facts of a new store = %q, %v; want its identity alone", got, err)
	}
	want := map[string][]byte{"type/m5.large": []byte(`{"vcpus":2}`), "empty": nil, store.IdentityFact: identity}
	for k, v := range want {
		if err := s.PutFact(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	got, err = s.AllFacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AllFacts = %q, want %q", got, want)
	}
}
