package access

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/fault"
)

func TestResolve(t *testing.T) {
	r := &Rules{ServiceUser: "egoadmin", Rules: []Rule{
		{User: "alice", Role: Operator, Templates: []string{"gpu-*"}},
		{Group: "hpc", Role: Operator, Templates: []string{"cpu"}},
		{Group: "ops", Role: Admin},
		{User: "carol", Role: Viewer},
		{Group: "hpc", Role: Viewer},
	}}
	for _, c := range []struct {
		user      string
		groups    []string
		role      Role
		templates []string
		source    string
	}{
		{"alice", nil, Operator, []string{"gpu-*"}, "unix user"},
		{"alice", []string{"hpc"}, Operator, []string{"gpu-*", "cpu"}, "unix user"},
		{"bob", []string{"ops"}, Admin, nil, "unix user"},
		{"carol", nil, Viewer, nil, "unix user"},
		{"dave", nil, None, nil, "unix user"},
		{"egoadmin", nil, Admin, nil, "HostFactory service user"},
	} {
		p := r.Resolve(c.user, c.groups)
		if p.Role != c.role || len(p.Templates) != len(c.templates) || p.Source != c.source {
			t.Errorf("Resolve(%s, %v) = %+v", c.user, c.groups, p)
		}
	}
	// A site narrows the service user by naming it.
	r.Rules = append(r.Rules, Rule{User: "egoadmin", Role: Operator, Templates: []string{"*"}})
	if p := r.Resolve("egoadmin", nil); p.Role != Operator {
		t.Errorf("narrowed service user = %+v", p)
	}
}

func TestAllow(t *testing.T) {
	op := Principal{Name: "alice", Role: Operator, Templates: []string{"gpu-*", "cpu"}}
	for _, c := range []struct {
		p         Principal
		a         Action
		templates []string
		ok        bool
		missing   string
	}{
		{op, Read, nil, true, ""},
		{op, Request, []string{"gpu-a"}, true, ""},
		{op, Request, []string{"cpu", "gpu-b"}, true, ""},
		{op, Return, []string{"gpu-a", "big"}, false, "big"},
		{op, Manage, nil, false, ""},
		{Principal{Role: Viewer}, Follow, nil, false, ""},
		{op, Follow, nil, true, ""},
		{op, Follow, []string{"gpu-a", "cpu"}, true, ""},
		{op, Follow, []string{"cpu", "big"}, false, "big"},
		{Principal{Role: Admin}, Request, []string{"anything"}, true, ""},
		{Principal{Role: None}, Read, nil, false, ""},
		{Principal{Role: Admin}, Action("new"), nil, false, ""},
		// Grants match template ids exactly, case included, or as
		// path.Match patterns, which match whole ids only.
		{op, Request, []string{"GPU-a"}, false, "GPU-a"},
		{op, Request, []string{"Cpu"}, false, "Cpu"},
		{op, Request, []string{"cpu "}, false, "cpu "},
		{op, Request, []string{"xgpu-a"}, false, "xgpu-a"},
		{Principal{Role: Operator, Templates: []string{"gpu-?"}}, Request, []string{"gpu-ab"}, false, "gpu-ab"},
		{Principal{Role: Operator}, Request, []string{""}, false, ""},
		{Principal{Role: Operator}, Return, nil, true, ""},
		{Principal{Role: Operator, Templates: []string{"*"}}, Request, []string{"anything"}, true, ""},
		{Principal{Role: Role("Admin")}, Read, nil, false, ""},
	} {
		err := c.p.Allow(c.a, c.templates...)
		if (err == nil) != c.ok {
			t.Errorf("%+v %s %v: %v", c.p, c.a, c.templates, err)
			continue
		}
		var fe *fault.Error
		if err != nil && (!errors.As(err, &fe) || fe.Code != fault.PermissionDenied || fe.Code.ExitCode() != 2) {
			t.Errorf("%v is not a PERMISSION_DENIED", err)
		}
		if c.missing != "" && fe.Details["missing_grant"] != c.missing {
			t.Errorf("details %v, want missing_grant %s", fe.Details, c.missing)
		}
	}
}

func TestTokens(t *testing.T) {
	file := filepath.Join(t.TempDir(), "work", TokensFileName)
	a, err := AddToken(file, "alice", Operator, []string{"gpu-*"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := AddToken(file, "bob", Viewer, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AddToken(file, "alice", Admin, nil, time.Now()); err == nil {
		t.Error("a second token for alice")
	}
	if _, err := AddToken(file, ServerPrincipal, Viewer, nil, time.Now()); fault.CodeOf(err) != fault.InvalidRequest {
		t.Errorf("a token in the name of the server's own: %v", err)
	}
	ts, err := ReadTokens(file)
	if err != nil || len(ts) != 2 {
		t.Fatalf("tokens %+v, %v", ts, err)
	}
	if p, ok := Lookup(a, ts); !ok || p.Name != "alice" || p.Role != Operator || p.Source != "token" {
		t.Errorf("Lookup(alice's) = %+v, %v", p, ok)
	}
	if _, ok := Lookup(a+"x", ts); ok {
		t.Error("a wrong token names someone")
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("tokens file mode %v, %v", fi.Mode(), err)
	}
	if err := RevokeToken(file, "alice"); err != nil {
		t.Fatal(err)
	}
	ts, _ = ReadTokens(file)
	if _, ok := Lookup(a, ts); ok {
		t.Error("a revoked token still works")
	}
	if p, ok := Lookup(b, ts); !ok || p.Name != "bob" {
		t.Errorf("bob's token after alice's revocation: %+v", p)
	}
	raw, _ := os.ReadFile(file)
	if string(raw) == "" || strings.Contains(string(raw), a) || strings.Contains(string(raw), b) {
		t.Error("a token is stored in clear")
	}
}

func TestRulesErrors(t *testing.T) {
	for content, want := range map[string]string{
		`{"rules": [{"user": "a", "group": "b", "role": "viewer"}]}`:         "rules[0]: names one user or one group",
		`{"rules": [{"user": "a", "role": "root"}]}`:                         `rules[0]: role "root" is not one of viewer, operator, admin`,
		`{"rules": [{"user": "a", "role": "operator", "templates": ["["]}]}`: `rules[0]: "[" is not a valid template pattern`,
		`{"rulez": []}`: `unknown field "rulez"`,
		// The last of two keys would silently win: a second rules list
		// replacing the first, a role given twice.
		`{"rules": [{"group": "ops", "role": "viewer"}], "rules": [{"group": "ops", "role": "admin"}]}`: `"rules" is given twice`,
		`{"rules": [{"user": "a", "role": "viewer", "role": "admin"}]}`:                                 `"role" is given twice`,
		`{"service_user": "egoadmin", "rules": [], "service_user": "mallory"}`:                          `"service_user" is given twice`,
		// A second object after the first would be ignored.
		`{"rules": [{"user": "a", "role": "viewer"}]} {"rules": [{"user": "a", "role": "admin"}]}`: "after the access rules",
		`null`: "an access file has service_user and rules",
	} {
		path := filepath.Join(t.TempDir(), FileName)
		os.WriteFile(path, []byte(content), 0o644)
		_, _, err := ReadRules(path)
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Code != fault.Configuration || !strings.Contains(fe.Message, want) {
			t.Errorf("%s: %v, want a CONFIGURATION_ERROR saying %q", content, err, want)
		}
	}
}

// TestRolesInAnyCase: "Admin" is read as admin in the access file and in
// the tokens file, as ParseRole reads it: a role that validates but ranks
// as none would lock out the service user a site meant to keep an admin.
func TestRolesInAnyCase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	os.WriteFile(path, []byte(`{"service_user": "egoadmin", "rules": [{"user": "egoadmin", "role": "Admin"}, {"group": "hpc", "role": " Operator ", "templates": ["gpu-*"]}]}`), 0o644)
	r, ok, err := ReadRules(path)
	if err != nil || !ok {
		t.Fatalf("ReadRules: %v", err)
	}
	if p := r.Resolve("egoadmin", nil); p.Role != Admin {
		t.Errorf("service user named with role \"Admin\": %+v", p)
	}
	if p := r.Resolve("alice", []string{"hpc"}); p.Allow(Request, "gpu-a") != nil {
		t.Errorf("operator named with role \" Operator \": %+v", p)
	}
	file := filepath.Join(dir, TokensFileName)
	os.WriteFile(file, []byte(`{"tokens": [{"principal": "alice", "role": "Operator", "templates": ["gpu-*"], "sha256": "`+Hash("secret")+`"}]}`), 0o600)
	ts, err := ReadTokens(file)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := Lookup("secret", ts); !ok || p.Allow(Request, "gpu-a") != nil {
		t.Errorf("token with role \"Operator\": %+v", p)
	}
}

// TestFilesWritableByOthers: an access or tokens file anyone may write lets
// anyone make themselves an admin, so it is refused, as sshd refuses such
// an authorized_keys file.
func TestFilesWritableByOthers(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		FileName:       `{"rules": [{"group": "ops", "role": "admin"}]}`,
		TokensFileName: `{"tokens": []}`,
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(content), 0o600)
		if err := os.Chmod(path, 0o666); err != nil {
			t.Fatal(err)
		}
		var err error
		if name == FileName {
			_, _, err = ReadRules(path)
		} else {
			_, err = ReadTokens(path)
		}
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Code != fault.Configuration || !strings.Contains(fe.Message, "writable by every user") {
			t.Errorf("%s mode 0666: %v, want a CONFIGURATION_ERROR", name, err)
		}
		// Group-writable stays allowed: a site's admin group may edit it.
		os.Chmod(path, 0o664)
		if name == FileName {
			_, _, err = ReadRules(path)
		} else {
			_, err = ReadTokens(path)
		}
		if err != nil {
			t.Errorf("%s mode 0664: %v", name, err)
		}
	}
}

// TestRulesAtOddPaths: an access file named as a folder, an empty device
// or a file that is not JSON is a CONFIGURATION_ERROR, never "no rules".
func TestRulesAtOddPaths(t *testing.T) {
	for _, path := range []string{t.TempDir(), "/dev/null", "/proc/self/status"} {
		r, ok, err := ReadRules(path)
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Code != fault.Configuration || ok || r != nil {
			t.Errorf("%s: %v, %v, %v; want a CONFIGURATION_ERROR", path, r, ok, err)
		}
		if _, err := Current(path, ""); fault.CodeOf(err) != fault.Configuration {
			t.Errorf("Current(%s): %v", path, err)
		}
	}
}
