package config_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/config"
)

// TestUserDataExamples renders every template of the user data examples
// (and IBM's example folder) through the path a launch takes: the
// templates file loaded as HostFactory's calls load it, then
// UserDataText.
// Each result must be a shell script that bash parses and shellcheck
// passes, with every userData pair exported and no placeholder left.
func TestUserDataExamples(t *testing.T) {
	for _, dir := range []string{"../../examples/user-data", "../../examples/ibm"} {
		abs, err := filepath.Abs(dir)
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"HF_PROVIDER_CONFDIR": abs, "HF_PROVIDER_WORKDIR": t.TempDir()}
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		for _, tmpl := range cfg.Templates {
			if tmpl.UserDataScript == "" {
				continue
			}
			t.Run(filepath.Base(dir)+"/"+tmpl.ID, func(t *testing.T) {
				script, err := tmpl.UserDataText()
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(script, "%EXPORT_USER_DATA%") {
					t.Error("the placeholder is left in the user data")
				}
				for pair := range strings.SplitSeq(tmpl.UserData, ";") {
					k, v, _ := strings.Cut(pair, "=")
					if want := "export " + k + "='" + v + "'\n"; !strings.Contains(script, want) {
						t.Errorf("user data lacks %q", want)
					}
				}
				path := filepath.Join(t.TempDir(), "user-data.sh")
				if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
					t.Errorf("bash -n: %v\n%s", err, out)
				}
				if out, err := exec.Command("shellcheck", "-s", "bash", path).CombinedOutput(); err != nil {
					t.Errorf("shellcheck: %v\n%s", err, out)
				}
			})
		}
	}
}
