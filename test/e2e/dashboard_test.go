package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// chromium runs headless Chromium once on url with extra flags and returns
// what it printed.
func chromium(t *testing.T, url string, extra ...string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run tools/setup.sh (make setup) to install Debian's chromium package")
	}
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(),
		// Lets the page's fetch and first redraw happen before the dump.
		"--virtual-time-budget=1500",
	}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return stdout.String()
}

// The dashboard, loaded in a real browser while a request is under way,
// shows the request's machines as they appear and as they start; a
// screenshot is left in test/artifacts.
func TestDashboardInHeadlessChromium(t *testing.T) {
	e := newEnv(t, sandbox.Options{PendingDelay: 300 * time.Millisecond}, []map[string]any{template("web", 5, nil)}, nil)
	url := e.serve()

	var placed hostfactory.RequestID
	rest(t, "POST", url+"/api/v1/requests", `{"template":{"templateId":"web","machineCount":2}}`, http.StatusCreated, &placed)
	var st hostfactory.Status
	rest(t, "GET", url+"/api/v1/requests/"+placed.RequestID, "", http.StatusOK, &st)
	machines := st.Requests[0].Machines
	if len(machines) != 2 {
		t.Fatalf("status right after the request: %+v", st)
	}
	page := chromium(t, url+"/", "--dump-dom")
	for _, m := range machines {
		if !strings.Contains(page, fmt.Sprintf(`data-machine="%s"`, m.MachineID)) {
			t.Fatalf("machine %s is not on the dashboard during the request:\n%s", m.MachineID, page)
		}
	}
	if !strings.Contains(page, `data-request="`+placed.RequestID+`"`) || strings.Count(page, `<span class="badge pending">pending</span>`) != 2 {
		t.Fatalf("request %s is not on the dashboard with its 2 machines pending:\n%s", placed.RequestID, page)
	}

	// HostFactory keeps polling; the page then shows the machines running.
	done, _ := waitREST(t, url, placed.RequestID)
	if done.Status != "complete" {
		t.Fatalf("request finished as %+v", done)
	}
	shot := filepath.Join(filepath.Dir(scriptDir), "test", "artifacts", "dashboard.png")
	if err := os.MkdirAll(filepath.Dir(shot), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(shot)
	page = chromium(t, url+"/", "--dump-dom", "--screenshot="+shot, "--window-size=1280,900", "--hide-scrollbars")
	if n := strings.Count(page, `<span class="badge succeed">succeed</span>`); n != 2 {
		t.Fatalf("%d machines shown as succeeded, want 2:\n%s", n, page)
	}
	if !strings.Contains(page, "2 / 5") {
		t.Fatalf("template usage not shown as 2 / 5:\n%s", page)
	}
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10000 {
		t.Fatalf("the screenshot is not a PNG of a page (%d bytes)", len(png))
	}
	t.Logf("screenshot: %s", shot)
}
