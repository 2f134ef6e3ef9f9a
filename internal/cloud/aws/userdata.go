package aws

import (
	"encoding/base64"
	"os"
	"strings"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
)

// exportPlaceholder is where IBM's user_data.sh wants the exports.
const exportPlaceholder = "%EXPORT_USER_DATA%"

// userData builds t's base64 user data: the userData pairs exported as
// shell variables, placed in the userDataScript when there is one (at its
// %EXPORT_USER_DATA% placeholder, else right after its #! line).
func userData(t config.Template) (string, error) {
	exports, err := exportLines(t.UserData)
	if err != nil {
		return "", fault.Wrap(fault.Configuration, err, "template %s: userData", t.ID)
	}
	var script string
	if t.UserDataScript != "" {
		raw, err := os.ReadFile(t.UserDataScript)
		if err != nil {
			return "", fault.Wrap(fault.Configuration, err, "template %s: userDataScript", t.ID)
		}
		script = string(raw)
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
		return "", fault.New(fault.Configuration,
			"template %s: userData pairs need a shell userDataScript (starting with #!)", t.ID)
	}
	if script == "" {
		return "", nil
	}
	return base64.StdEncoding.EncodeToString([]byte(script)), nil
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
			return "", fault.New(fault.Configuration, "%q is not a name=value pair with a shell variable name", pair)
		}
		b.WriteString("export " + k + "='" + strings.ReplaceAll(v, "'", `'\''`) + "'\n")
	}
	return b.String(), nil
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
