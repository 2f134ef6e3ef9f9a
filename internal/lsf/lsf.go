// Package lsf holds what the IBM LSF resource connector expects of a
// provider plugin beyond HostFactory's five operations: the environment its
// ebrokerd daemon sets before running a script, the shell variables its
// user_data.sh reads, and the tag its account policies read. The sources of
// each rule are in docs/lsf.md.
package lsf

import "strings"

// The variables ebrokerd sets before it runs a provider script.
const (
	EnvProviderName = "PROVIDER_NAME"  // "name" of the provider in hostProviders.json
	EnvConfDir      = "PRO_CONF_DIR"   // "confPath" of the provider; its conf/ holds the JSON files
	EnvDataDir      = "PRO_DATA_DIR"   // state folder shared by the providers of the cluster
	EnvLogDir       = "PRO_LSF_LOGDIR" // LSF_LOGDIR of lsf.conf
	EnvTop          = "PRO_LSF_TOP"    // LSF_TOP of lsf.conf
	EnvScriptOpts   = "SCRIPT_OPTIONS" // "scriptOption" of the provider, e.g. -DclusterName=cluster1
)

// Environment lists the variables whose presence says LSF runs the scripts.
var Environment = []string{EnvConfDir, EnvDataDir, EnvLogDir, EnvTop}

// Present reports whether env carries any of LSF's variables.
func Present(env func(string) string) bool {
	for _, k := range Environment {
		if env(k) != "" {
			return true
		}
	}
	return false
}

// ClusterName reads the cluster name from SCRIPT_OPTIONS, which LSF's
// plugins take as "-DclusterName=<name>" among other options; "" when
// absent.
func ClusterName(scriptOptions string) string {
	for _, opt := range strings.Fields(scriptOptions) {
		if _, name, ok := strings.Cut(opt, "clusterName="); ok {
			return name
		}
	}
	return ""
}

// ConfFolder is the folder of the JSON files under a provider's confPath.
const ConfFolder = "conf"

// UserDataScript is the file, in the folder of the five scripts, whose
// %EXPORT_USER_DATA% LSF's plugins fill in and pass as user data.
const UserDataScript = "user_data.sh"

// AccountTag is the tag that carries rc_account on instances and volumes.
const AccountTag = "RC_ACCOUNT"

// Export is one shell variable handed to a new host's user data.
type Export struct{ Name, Value string }

// Exports are the variables LSF's plugins add, after the template's userData
// pairs, for user_data.sh to turn into LSF_LOCAL_RESOURCES: the request's
// account, the template, the cluster and the provider. Empty ones are left
// out, as IBM's plugin leaves them out.
func Exports(rcAccount, templateID, clusterName, providerName string) []Export {
	var out []Export
	for _, e := range []Export{
		{"rc_account", rcAccount},
		{"template_id", templateID},
		{"clustername", clusterName},
		{"providerName", providerName},
	} {
		if e.Value != "" {
			out = append(out, e)
		}
	}
	return out
}
