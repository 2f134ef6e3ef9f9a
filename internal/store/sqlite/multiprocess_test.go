package sqlite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ohfp/ohfp/internal/store"
)

// The multi-process tests re-execute this test binary as helper processes,
// as HostFactory runs one ohfp process per call on the same store file.
const (
	helperEnv  = "GO_WANT_HELPER_PROCESS" // the helper's job: create or churn
	helperPath = "OHFP_HELPER_STORE"      // the store file
	helperName = "OHFP_HELPER_NAME"       // a prefix for what the helper writes
)

// helper jobs.
const (
	jobCreate = "create" // creates 10 requests of Outstanding 1 within limit 50
	jobChurn  = "churn"  // rewrites 1,000 machines again and again
)

const (
	createsPerHelper = 10
	helperLimit      = 50
	churnMachines    = 1000
)

func TestMain(m *testing.M) {
	if job := os.Getenv(helperEnv); job != "" {
		if err := runHelper(job, os.Getenv(helperPath), os.Getenv(helperName)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runHelper opens the store, says "ready" on stdout, waits for a line on
// stdin, then does its job, reporting each step on stdout.
func runHelper(job, path, name string) error {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	switch job {
	case jobCreate:
		for i := range createsPerHelper {
			r := &store.Request{
				ID: fmt.Sprintf("%s-%d", name, i), Kind: store.KindCreate, TemplateID: "tmpl",
				MachineCount: 1, Outstanding: 1, State: store.StatePending,
			}
			switch err := s.CreateRequest(ctx, r, []store.Limit{store.TemplateLimit(r.TemplateID, helperLimit)}); {
			case err == nil:
				fmt.Println("ok")
			case errors.Is(err, store.ErrCapacity):
				fmt.Println("capacity")
			default:
				fmt.Println("error:", err)
			}
		}
		return nil
	case jobChurn:
		ms := make([]store.Machine, churnMachines)
		for generation := 0; ; generation++ {
			for i := range ms {
				ms[i] = store.Machine{
					InstanceID: fmt.Sprintf("i-%d", i), RequestID: name, TemplateID: "tmpl",
					State: "running", Message: strconv.Itoa(generation),
				}
			}
			if err := s.SaveMachines(ctx, ms); err != nil {
				return err
			}
			fmt.Println(generation)
		}
	}
	return fmt.Errorf("unknown helper job %q", job)
}

// helperProc is a running helper process.
type helperProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// startHelper starts a helper process on the store at path and waits until
// it has opened the store.
func startHelper(t *testing.T, job, path, name string) *helperProc {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+job, helperPath+"="+path, helperName+"="+name)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	p := &helperProc{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	if line := p.line(t); line != "ready" {
		t.Fatalf("helper %s said %q, want ready", name, line)
	}
	return p
}

// line is the helper's next line of output.
func (p *helperProc) line(t *testing.T) string {
	t.Helper()
	if !p.out.Scan() {
		t.Fatalf("helper ended early: %v", p.out.Err())
	}
	return p.out.Text()
}

func (p *helperProc) start(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
}

// Eight processes open a new store file at once, migrating it together,
// then race to create 80 requests of one slot each within a limit of 50.
func TestProcessesRaceForCapacity(t *testing.T) {
	const procs = 8
	path := filepath.Join(t.TempDir(), "ohfp.db")
	helpers := make([]*helperProc, procs)
	for i := range helpers {
		helpers[i] = startHelper(t, jobCreate, path, fmt.Sprintf("p%d", i))
	}
	for _, p := range helpers {
		p.start(t)
	}
	counts := map[string]int{}
	for i, p := range helpers {
		for range createsPerHelper {
			line := p.line(t)
			counts[line]++
			if line != "ok" && line != "capacity" {
				t.Errorf("helper %d: %s", i, line)
			}
		}
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v", i, err)
		}
	}
	if counts["ok"] != helperLimit || counts["capacity"] != procs*createsPerHelper-helperLimit {
		t.Errorf("helpers report %v, want %d ok", counts, helperLimit)
	}
	s := openTest(t, path)
	stored, err := s.ListRequests(t.Context(), store.RequestQuery{})
	if err != nil || len(stored) != helperLimit {
		t.Errorf("%d requests stored (%v), want %d", len(stored), err, helperLimit)
	}
}

// A process killed in the middle of writing leaves a sound store holding
// its last committed transaction whole.
func TestKilledWriterLeavesSoundStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ohfp.db")
	setup := openTest(t, path)
	r := &store.Request{ID: "churn", Kind: store.KindCreate, TemplateID: "tmpl", State: store.StateRunning}
	if err := setup.CreateRequest(t.Context(), r, nil); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		p := startHelper(t, jobChurn, path, "churn")
		p.start(t)
		var last string
		for range 3 + round {
			last = p.line(t)
		}
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		p.cmd.Wait()

		s := openTest(t, path)
		if got := pragma(t, s, "integrity_check"); got != "ok" {
			t.Fatalf("round %d: integrity_check = %s", round, got)
		}
		ms, err := s.Machines(t.Context(), store.MachineQuery{RequestIDs: []string{"churn"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != churnMachines {
			t.Fatalf("round %d: %d machines stored, want %d", round, len(ms), churnMachines)
		}
		generation := ms[0].Message
		for _, m := range ms {
			if m.Message != generation {
				t.Fatalf("round %d: machines of generations %s and %s: a transaction was torn", round, generation, m.Message)
			}
		}
		if mustAtoi(t, generation) < mustAtoi(t, last) {
			t.Errorf("round %d: stored generation %s is older than committed %s", round, generation, last)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
