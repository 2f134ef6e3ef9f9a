package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ohfp/ohfp/internal/config"
)

// LoadTemplatesFile reads the configuration env describes with its
// templates taken from file instead, checked by the same code HostFactory's
// calls run. file must be named as IBM names templates files
// (<name>prov_templates.json), since that name is how the loader finds it;
// relative paths in it are anchored in its own folder.
func LoadTemplatesFile(env func(string) string, file string) (*config.Config, error) {
	current, err := config.Load(env)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	name, ok := strings.CutSuffix(filepath.Base(abs), "prov_templates.json")
	if !ok || name == "" {
		return nil, fmt.Errorf("%s: a templates file must be named <name>prov_templates.json", file)
	}
	over := map[string]string{
		"HF_PROVIDER_NAME":    name,
		"HF_PROVIDER_CONFDIR": filepath.Dir(abs),
		"HF_PROVIDER_WORKDIR": current.WorkDir,
		"HF_PROVIDER_LOGDIR":  current.LogDir,
		"HF_CONFIG_PATH":      current.ConfigFile,
	}
	cfg, err := config.Load(func(k string) string {
		if v, ok := over[k]; ok {
			return v
		}
		return env(k)
	})
	if err != nil {
		return nil, err
	}
	if cfg.TemplatesFile != abs {
		return nil, fmt.Errorf("%s was not read (the loader took %s)", file, cfg.TemplatesFile)
	}
	return cfg, nil
}
