package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/lsf"
)

// exportPlaceholder is where IBM's user_data.sh wants the exports.
const exportPlaceholder = "%EXPORT_USER_DATA%"

// UserDataText is the user data of the template's hosts: the userData
// pairs exported as shell variables, then extra (what LSF adds for a
// request), placed in the userDataScript when there is one (at its
// %EXPORT_USER_DATA% placeholder, else right after its #! line). EC2 wants
// it base64-encoded.
func (t Template) UserDataText(extra ...lsf.Export) (string, error) {
	var script []byte
	if t.UserDataScript != "" {
		var err error
		if script, err = os.ReadFile(t.UserDataScript); err != nil {
			return "", fault.Wrap(fault.Configuration, err, "template %s: userDataScript", t.ID)
		}
	}
	text, err := userDataOf(t.UserData, string(script), extra...)
	if err != nil {
		return "", fault.Wrap(fault.Configuration, err, "template %s: userData", t.ID)
	}
	return text, nil
}

// userDataOf places the exports of pairs, then of extra, in script.
func userDataOf(pairs, script string, extra ...lsf.Export) (string, error) {
	exports, err := exportLines(pairs)
	if err != nil {
		return "", err
	}
	for _, e := range extra {
		exports += export(e.Name, e.Value)
	}
	switch {
	case strings.Contains(script, exportPlaceholder):
		script = strings.ReplaceAll(script, exportPlaceholder, exports)
	case exports == "":
	case script == "":
		script = "#!/bin/bash\n" + exports
	case strings.HasPrefix(script, "#!"):
		shebang, rest, _ := strings.Cut(script, "\n")
		script = shebang + "\n" + exports + rest
	default:
		return "", errors.New("userData pairs need a shell userDataScript (starting with #!)")
	}
	return script, nil
}

// exportLines turns "k=v;k2=v2" into "export k='v'\n..." lines.
func exportLines(pairs string) (string, error) {
	var b strings.Builder
	for pair := range strings.SplitSeq(pairs, ";") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || !isShellName(k) {
			return "", fmt.Errorf("%q is not a name=value pair with a shell variable name", pair)
		}
		b.WriteString(export(k, v))
	}
	return b.String(), nil
}

// export is one export line, its value single-quoted so that no value can
// run as shell code.
func export(name, value string) string {
	return "export " + name + "='" + strings.ReplaceAll(value, "'", `'\''`) + "'\n"
}

// isShellName reports whether s is a valid shell variable name.
func isShellName(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// NotStored stands for a value the state store does not keep.
const NotStored = "(not stored)"

// AtRest is t as the state store keeps it with each request: all that
// status, return and reconcile read, without the userData values, which
// may hold passwords and would otherwise rest in the store (and in
// DynamoDB) for the retention period. The pairs' names stay, to show what
// was passed; userDataScript is a path, and its content is never stored.
// A template at rest is never launched again.
func (t Template) AtRest() Template {
	var names []string
	for pair := range strings.SplitSeq(t.UserData, ";") {
		if k, _, _ := strings.Cut(pair, "="); strings.TrimSpace(k) != "" {
			names = append(names, strings.TrimSpace(k)+"="+NotStored)
		}
	}
	t.UserData = strings.Join(names, ";")
	return t
}
