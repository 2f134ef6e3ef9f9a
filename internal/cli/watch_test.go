package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/cli"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/sandbox"
	"github.com/ohfp/ohfp/internal/store"
)

// TestWatchDrawsABar follows a real request through the real broker, the
// SQLite store and the sandbox, drawing as on a terminal.
func TestWatchDrawsABar(t *testing.T) {
	// Instances stay pending until the test moves the sandbox clock, so the
	// frames do not depend on how fast a loaded machine runs the test.
	sb := sandbox.New(sandbox.Options{PendingDelay: time.Hour})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIASANDBOX")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "sandbox-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	conf := t.TempDir()
	for name, v := range map[string]any{
		"awsinstprov_config.json": map[string]any{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": srv.URL},
		"awsinstprov_templates.json": map[string]any{"templates": []map[string]any{{"templateId": "t1", "maxNumber": 5,
			"imageId": sandbox.DefaultImageID, "vmType": "t3.micro"}}},
	} {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(conf, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"HF_PROVIDER_NAME": "awsinst", "HF_PROVIDER_CONFDIR": conf, "HF_PROVIDER_WORKDIR": t.TempDir()}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	g, err := a.Broker.RequestMachines(ctx, broker.MachineRequest{TemplateID: "t1", Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.Broker.Request(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}

	// HostFactory asks about it, and so follows it; watching alone would not.
	if _, err := a.Broker.Status(ctx, []string{g.ID}); err != nil {
		t.Fatal(err)
	}
	out := &firstWrite{then: func() { sb.Advance(time.Hour) }}
	now := func() time.Time { return r.CreatedAt.Add(90 * time.Second) }
	st, err := cli.Watch(ctx, a.Broker, r, 50*time.Millisecond, out, true, now)
	if err != nil || st.Status != store.StateComplete {
		t.Fatalf("watch ended %s: %v", st.Status, err)
	}
	frames := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\r")[1:]
	first, last := frames[0], frames[len(frames)-1]
	if want := "[" + strings.Repeat(".", 30) + "] " + g.ID + " running after 1m30s: 0 running, 2 pending, 0 failed of 2\x1b[K"; first != want {
		t.Errorf("first frame %q, want %q", first, want)
	}
	if want := "[" + strings.Repeat("#", 30) + "] " + g.ID + " complete after 1m30s: 2 running, 0 pending, 0 failed of 2\x1b[K"; last != want {
		t.Errorf("last frame %q, want %q", last, want)
	}
}

// firstWrite is a buffer that calls then after its first write: the moment
// the first frame has been drawn.
type firstWrite struct {
	bytes.Buffer
	then func()
}

func (w *firstWrite) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if w.then != nil {
		w.then()
		w.then = nil
	}
	return n, err
}
