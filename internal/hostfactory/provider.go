package hostfactory

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ohfp/ohfp/internal/installation"
)

// Provider describes a provider instance folder to lay out.
type Provider struct {
	Name      string // HF_PROVIDER_NAME, e.g. awsinst
	ScriptDir string // the folder of the five scripts
	Binary    string // the ohfp binary (OHFP_BIN)
	Config    any    // written as <name>prov_config.json
	Templates any    // written as <name>prov_templates.json
	// InstallationID, when set, is written as the installation id; else
	// ohfp makes one on first use.
	InstallationID string
	Env            []string
}

// The credentials the scripts run with: dummies, since the sandbox accepts
// any and checks no signature.
const (
	SandboxAccessKeyID     = "AKIASANDBOX"
	SandboxSecretAccessKey = "sandbox-secret"
)

// Install lays out conf, work and log folders under root the way
// HostFactory does, writes the config and templates files, and returns a
// Host whose calls run with that provider instance's environment. AWS
// credentials are dummies: the sandbox checks no signature.
func (p Provider) Install(root string) (*Host, error) {
	dirs := map[string]string{}
	for _, d := range []string{"conf", "work", "log", "tmp"} {
		dirs[d] = filepath.Join(root, d)
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			return nil, err
		}
	}
	files := map[string]any{p.Name + "prov_config.json": p.Config, p.Name + "prov_templates.json": p.Templates}
	if p.InstallationID != "" {
		if err := os.WriteFile(installation.Path(dirs["conf"]), []byte(p.InstallationID+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	for name, v := range files {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dirs["conf"], name), b, 0o644); err != nil {
			return nil, err
		}
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + root,
		"HF_PROVIDER_NAME=" + p.Name,
		"HF_PROVIDER_CONFDIR=" + dirs["conf"],
		"HF_PROVIDER_WORKDIR=" + dirs["work"],
		"HF_PROVIDER_LOGDIR=" + dirs["log"],
		"AWS_ACCESS_KEY_ID=" + SandboxAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SandboxSecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
		"OHFP_BIN=" + p.Binary,
	}
	return &Host{ScriptDir: p.ScriptDir, Env: append(env, p.Env...), WorkDir: dirs["tmp"]}, nil
}
