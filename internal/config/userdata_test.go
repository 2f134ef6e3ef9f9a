package config

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/lsf"
	"github.com/ohfp/ohfp/internal/lsf/lsftest"
)

func writeScript(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "user_data.sh")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUserData(t *testing.T) {
	tests := []struct {
		name   string
		pairs  string
		script string // file content; "" means no file
		want   string
	}{
		{name: "nothing", want: ""},
		{name: "pairs only", pairs: "A=1; B=it's ;;C=x=y",
			want: "#!/bin/bash\nexport A='1'\nexport B='it'\\''s'\nexport C='x=y'\n"},
		{name: "script only", script: "#!/bin/sh\necho hi\n", want: "#!/bin/sh\necho hi\n"},
		{name: "pairs after shebang", pairs: "A=1", script: "#!/bin/sh\necho $A\n",
			want: "#!/bin/sh\nexport A='1'\necho $A\n"},
		{name: "IBM placeholder", pairs: "A=1", script: "#!/bin/bash\nset -e\n%EXPORT_USER_DATA%\necho $A\n",
			want: "#!/bin/bash\nset -e\nexport A='1'\n\necho $A\n"},
		{name: "cloud-config without pairs", script: "#cloud-config\npackages: [git]\n",
			want: "#cloud-config\npackages: [git]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := Template{ID: "t", UserData: tc.pairs}
			if tc.script != "" {
				tmpl.UserDataScript = writeScript(t, tc.script)
			}
			got, err := tmpl.UserDataText()
			if err != nil {
				t.Fatalf("UserDataText: %v", err)
			}
			if got != tc.want {
				t.Errorf("user data:\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestUserDataRejects(t *testing.T) {
	tests := map[string]Template{
		"bad name":              {ID: "t", UserData: "1A=x"},
		"no value":              {ID: "t", UserData: "A"},
		"missing script":        {ID: "t", UserDataScript: "/nonexistent/ohfp/user_data.sh"},
		"pairs into non-script": {ID: "t", UserData: "A=1", UserDataScript: writeScript(t, "#cloud-config\n")},
	}
	for name, tmpl := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := tmpl.UserDataText()
			if fault.CodeOf(err) != fault.Configuration {
				t.Fatalf("err = %v, want a %s", err, fault.Configuration)
			}
		})
	}
}

// TestUserDataExportsMatchIBM renders an LSF user_data.sh, its exports at
// %EXPORT_USER_DATA% as in IBM's sample, and checks that the host sees the
// same variables as with IBM's plugin for the same template and request.
func TestUserDataExportsMatchIBM(t *testing.T) {
	const sample = "#!/bin/sh\nlogfile=/dev/null\n%EXPORT_USER_DATA%\nLSF_TOP=/opt/lsf\n"
	names := []string{"zone", "pricing", "rc_account", "template_id", "clustername", "providerName"}
	for _, tc := range []struct{ userData, account, cluster string }{
		{"zone=us_west_2a;pricing=spot", "proj-a", "cluster1"},
		{"zone=us_west_2b", "default", ""},
		{"", "", "cluster1"},
	} {
		tmpl := Template{ID: "Template-VM-1", UserData: tc.userData, UserDataScript: writeScript(t, sample)}
		got, err := tmpl.UserDataText(lsf.Exports(tc.account, tmpl.ID, tc.cluster, "aws")...)
		if err != nil {
			t.Fatal(err)
		}
		ibm := strings.ReplaceAll(sample, "%EXPORT_USER_DATA%", lsftest.IBMExports(tc.userData, tc.account, tmpl.ID, tc.cluster, "aws"))
		g, err := lsftest.Exported(got, names)
		if err != nil {
			t.Fatal(err)
		}
		w, err := lsftest.Exported(ibm, names)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(g, w) {
			t.Errorf("userData %q: the host sees\n%v\nIBM's plugin gives\n%v\nuser data:\n%s", tc.userData, g, w, got)
		}
	}
}
