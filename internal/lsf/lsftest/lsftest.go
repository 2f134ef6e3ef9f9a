// Package lsftest holds what tests need to compare ohfp with IBM's LSF
// plugins: the user data exports IBM's Java plugin writes, and what a shell
// sees of them.
package lsftest

import (
	"fmt"
	"os/exec"
	"strings"
)

// IBMExports is the line IBM's Java LSF plugin puts in place of
// %EXPORT_USER_DATA% (AwsUtil.getEncodedUserData in
// IBMSpectrumComputing/cloud-provider-plugins, hostProviders/aws): the
// template's userData with ";" turned into spaces, then rc_account,
// template_id, clustername and providerName, each only when set.
func IBMExports(userData, account, templateID, cluster, provider string) string {
	s := ""
	if userData != "" {
		s = "export " + strings.ReplaceAll(userData, ";", " ") + ";"
	}
	for _, kv := range [][2]string{{"rc_account", account}, {"template_id", templateID}, {"clustername", cluster}, {"providerName", provider}} {
		if kv[1] != "" {
			s += "export " + kv[0] + "=" + kv[1] + ";"
		}
	}
	return s
}

// Exports are the lines of a user data script that export variables: what
// %EXPORT_USER_DATA% became, without the rest of the script, which is
// meant for a new host and not for a test machine.
func Exports(script string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(script, "\n") {
		if strings.HasPrefix(line, "export ") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// Exported runs script in sh, then reports what a command after it sees of
// each of names ("<unset>" for an unset one).
func Exported(script string, names []string) (map[string]string, error) {
	probe := script + "\n"
	for _, n := range names {
		probe += `printf '%s=%s|\n' ` + n + ` "${` + n + `-<unset>}"` + "\n"
	}
	out, err := exec.Command("sh", "-c", probe).Output()
	if err != nil {
		return nil, fmt.Errorf("sh: %w", err)
	}
	got := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "|"), "=")
		got[k] = v
	}
	return got, nil
}
