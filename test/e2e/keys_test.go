package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/sandbox"
)

// TestLegacyFlagAnywhere takes --legacy before the command as after it, and
// the config's hostfactory.legacy_mode (or field_mapping: camelCase) as its
// default, which --legacy=false still overrides.
func TestLegacyFlagAnywhere(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, nil)
	keys := func(config map[string]any, args ...string) string {
		t.Helper()
		if config != nil {
			e.writeConfig("awsinstprov_config.json", config)
		}
		out, stderr, exit := run(t, e.with(), args...)
		if exit != 0 {
			t.Fatalf("%v: exit %d: %s", args, exit, stderr)
		}
		switch {
		case strings.Contains(out, `"templateId"`) && !strings.Contains(out, `"template_id"`):
			return "camel"
		case strings.Contains(out, `"template_id"`) && !strings.Contains(out, `"templateId"`):
			return "snake"
		}
		t.Fatalf("%v: keys of both kinds or neither:\n%s", args, out)
		return ""
	}
	for _, c := range []struct {
		config map[string]any
		args   []string
		want   string
	}{
		{nil, []string{"templates", "list", "-o", "json"}, "snake"},
		{nil, []string{"--legacy", "templates", "list", "-o", "json"}, "camel"},
		{nil, []string{"templates", "--legacy", "list", "-o", "json"}, "camel"},
		{nil, []string{"templates", "list", "-o", "json", "--legacy"}, "camel"},
		{map[string]any{"OHFP_LEGACY_MODE": true}, []string{"templates", "list", "-o", "json"}, "camel"},
		{map[string]any{"OHFP_LEGACY_MODE": true}, []string{"--legacy=false", "templates", "list", "-o", "json"}, "snake"},
		{map[string]any{"OHFP_LEGACY_MODE": false, "OHFP_FIELD_MAPPING": "camelCase"}, []string{"requests", "list", "-o", "json"}, "camel"},
	} {
		if c.want == "camel" && c.args[0] == "requests" {
			e.request("T", 1) // a request to list
		}
		if got := keys(c.config, c.args...); got != c.want {
			t.Errorf("%v with %v: %s keys, want %s", c.args, c.config, got, c.want)
		}
	}
}

// TestUnusedSettingsAreLoud warns of a setting ohfp does not use in the log
// of every call, and `templates validate --strict` fails on it.
func TestUnusedSettingsAreLoud(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, map[string]any{"AWS_MADE_UP_KEY": "x"})
	e.hf.Templates(e.ctx())
	e.hf.Templates(e.ctx())
	log, err := os.ReadFile(filepath.Join(e.root, "log", "ohfp.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), `"msg":"configuration setting not used","setting":"awsinstprov_config.json: AWS_MADE_UP_KEY"`); n != 2 {
		t.Errorf("%d warnings in two calls:\n%s", n, log)
	}
	if out, _, exit := run(t, e.with(), "templates", "validate"); exit != 0 || !strings.Contains(out, "not used: awsinstprov_config.json: AWS_MADE_UP_KEY") {
		t.Errorf("validate: exit %d\n%s", exit, out)
	}
	if _, stderr, exit := run(t, e.with(), "templates", "validate", "--strict"); exit != 1 || !strings.Contains(stderr, "1 settings not used") {
		t.Errorf("validate --strict: exit %d\n%s", exit, stderr)
	}
}
