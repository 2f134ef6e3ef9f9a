package installation

import (
	"os"
	"sync"
	"testing"

	"github.com/ohfp/ohfp/internal/fault"
)

func TestEnsureMakesOneIDOnce(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := Read(dir); ok || err != nil {
		t.Fatalf("an id before any: %v %v", ok, err)
	}
	ids := make([]string, 20)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			id, err := Ensure(dir)
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == "" {
			t.Fatalf("concurrent first uses disagree: %v", ids)
		}
	}
	if id, ok, err := Read(dir); !ok || err != nil || id != ids[0] {
		t.Fatalf("read back %q %v %v", id, ok, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestDamagedOrUnwritableIDFile(t *testing.T) {
	dir := t.TempDir()
	for _, content := range []string{"", "\n", "has space", string(make([]byte, 200))} {
		os.WriteFile(Path(dir), []byte(content), 0o644)
		if _, err := Ensure(dir); fault.CodeOf(err) != fault.Configuration {
			t.Errorf("%q: %v", content, err)
		}
		if b, _ := os.ReadFile(Path(dir)); string(b) != content {
			t.Errorf("%q was overwritten with %q", content, b)
		}
	}
	if os.Getuid() == 0 {
		t.Skip("root writes read-only folders")
	}
	ro := t.TempDir()
	os.Chmod(ro, 0o555)
	if _, err := Ensure(ro); fault.CodeOf(err) != fault.Configuration {
		t.Errorf("read-only conf folder: %v", err)
	}
}
