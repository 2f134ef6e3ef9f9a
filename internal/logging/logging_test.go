package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/config"
)

// TestRotationLosesNoLine has 50 writers log at once, each the way an ohfp
// process does (open the log, rotating it when it is over its size, write,
// close), again and again across hundreds of rotations: every line written
// is found once in the log or a backup.
func TestRotationLosesNoLine(t *testing.T) {
	const writers, rounds, lines = 50, 8, 4
	dir := t.TempDir()
	cfg := config.Logging{Level: "info", FilePath: filepath.Join(dir, "ohfp.log"), MaxSize: 1024, BackupCount: 1000}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				log, closer, err := Open(cfg)
				if err != nil {
					errs <- err
					return
				}
				for l := range lines {
					log.Info("line", "id", fmt.Sprintf("%d.%d.%d", w, r, l))
				}
				closer.Close()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	seen := map[string]int{}
	files, err := filepath.Glob(cfg.FilePath + "*")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		// Only the account that runs HostFactory reads the log, its backups
		// or its lock.
		if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", name, fi.Mode().Perm(), err)
		}
		if filepath.Ext(name) == ".lock" {
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var rec struct{ ID string }
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("%s: a broken line %q", name, sc.Text())
			}
			seen[rec.ID]++
		}
		f.Close()
	}
	lost := 0
	for w := range writers {
		for r := range rounds {
			for l := range lines {
				id := fmt.Sprintf("%d.%d.%d", w, r, l)
				switch seen[id] {
				case 1:
				case 0:
					lost++
				default:
					t.Errorf("line %s found %d times", id, seen[id])
				}
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d lines lost across %d files", lost, writers*rounds*lines, len(files))
	}
	if len(files) < 10 {
		t.Errorf("only %d files: the test did not rotate enough to mean anything", len(files))
	}
}

// TestDurationsReadable: a duration in a log line reads "1m30s", not a
// count of nanoseconds.
func TestDurationsReadable(t *testing.T) {
	var b bytes.Buffer
	NewJSON(&b, "info").Info("waited", "budget", 90*time.Second)
	if !strings.Contains(b.String(), `"budget":"1m30s"`) {
		t.Errorf("log line %s", b.String())
	}
}

// TestLineFormat holds each line to the OHFP requirements guide's log
// format: "timestamp" in RFC 3339, UTC, and no "time" key.
func TestLineFormat(t *testing.T) {
	var buf bytes.Buffer
	NewJSON(&buf, "info").Info("operation", "operation", "requestMachines", "duration_ms", 15)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	ts, _ := line["timestamp"].(string)
	at, err := time.Parse(time.RFC3339, ts)
	if err != nil || !strings.HasSuffix(ts, "Z") || time.Since(at) > time.Minute {
		t.Errorf("timestamp %q (%v): want RFC 3339 in UTC, now", ts, err)
	}
	if _, ok := line["time"]; ok || line["level"] != "INFO" || line["operation"] != "requestMachines" {
		t.Errorf("line %s", buf.Bytes())
	}
}
