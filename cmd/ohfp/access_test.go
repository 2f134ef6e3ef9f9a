package main

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/fault"
)

// leastRole is, for every command, the weakest role that may run it: the
// expectation the rules in commandActions are held to. "" marks commands
// access control leaves alone.
var leastRole = map[string]access.Role{
	"ohfp templates list": access.Viewer, "ohfp templates show": access.Viewer, "ohfp templates validate": access.Viewer,
	"ohfp policies list": access.Viewer, "ohfp policies show": access.Viewer, "ohfp policies check": access.Viewer,
	"ohfp requests list": access.Viewer, "ohfp requests show": access.Viewer, "ohfp requests watch": access.Viewer,
	"ohfp machines list": access.Viewer, "ohfp events list": access.Viewer, "ohfp iam-policy": access.Viewer,
	"ohfp doctor": access.Admin, "ohfp reconcile": access.Admin, "ohfp smoke": access.Admin, "ohfp serve": access.Admin,
	"ohfp store init": access.Admin, "ohfp store migrate": access.Admin,
	"ohfp tokens add": access.Admin, "ohfp tokens list": access.Admin, "ohfp tokens revoke": access.Admin,
	"ohfp hf": "", "ohfp init": "", "ohfp sandbox": "", "ohfp version": "",
}

// runnable lists the commands of the tree that run something.
func runnable(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	if c.Runnable() {
		out = append(out, c)
	}
	for _, sub := range c.Commands() {
		if sub.Name() == "help" || sub.Name() == "completion" {
			continue
		}
		out = append(out, runnable(sub)...)
	}
	return out
}

// TestEveryCommandHasARuleForEveryRole holds every command's rule to its
// expected least role, for each role: a command added without a rule, or
// with another one, fails here.
func TestEveryCommandHasARuleForEveryRole(t *testing.T) {
	for _, c := range runnable(rootCommand()) {
		path := c.CommandPath()
		want, known := leastRole[path]
		if !known {
			t.Errorf("command %q has no expected role in this test: give it a rule in commandActions and here", path)
			continue
		}
		if want == "" {
			if !unruled[path] {
				t.Errorf("command %q is expected to be left alone, but unruled does not say so", path)
			}
			continue
		}
		if _, ok := commandActions[path]; !ok {
			t.Errorf("command %q has no rule in commandActions", path)
			continue
		}
		for _, role := range access.Roles {
			may := slices.Index(access.Roles, role) >= slices.Index(access.Roles, want)
			err := access.Principal{Name: "p", Role: role, Templates: []string{"*"}}.Allow(commandActions[path])
			if (err == nil) != may {
				t.Errorf("%s as %s: allowed %v, want %v (%v)", path, role, err == nil, may, err)
			}
		}
	}
}

// TestCommandDeniedToAUserTheRulesNarrow runs commands as the test's own
// Unix user, whom the access file makes a viewer: reads run, an admin's
// command is PERMISSION_DENIED (exit 2) naming the role it lacks.
func TestCommandDeniedToAUserTheRulesNarrow(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	conf := t.TempDir()
	for name, content := range map[string]string{
		"awsprov_config.json": `{"AWS_REGION": "us-east-1"}`,
		"access.json":         `{"rules": [{"user": "` + me.Username + `", "role": "viewer"}]}`,
	} {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HF_PROVIDER_CONFDIR", conf)
	t.Setenv("HF_PROVIDER_WORKDIR", t.TempDir())
	run := func(args ...string) error {
		root := rootCommand()
		root.SetArgs(args)
		root.SetOut(new(nopWriter))
		return root.ExecuteContext(t.Context())
	}
	if err := run("policies", "list", "-o", "json"); err != nil {
		t.Fatalf("a viewer's read: %v", err)
	}
	err = run("tokens", "add", "mallory", "--role", "admin")
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Code != fault.PermissionDenied || exitStatus(err) != 2 || fe.Details["missing_role"] != "admin" {
		t.Fatalf("tokens add as a viewer: %v", err)
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("HF_PROVIDER_WORKDIR"), access.TokensFileName)); err == nil {
		t.Error("a denied tokens add wrote the tokens file")
	}
}

type nopWriter struct{}

func (*nopWriter) Write(b []byte) (int, error) { return len(b), nil }
