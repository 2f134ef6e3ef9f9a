package cli

import (
	"path/filepath"

	"github.com/ohfp/ohfp/internal/config"
)

// LoadTemplatesFile reads the configuration env describes with its
// templates taken from file instead, whatever its name, checked by the same
// code HostFactory's calls run. Relative paths in it are anchored in its
// own folder.
func LoadTemplatesFile(env func(string) string, file string) (*config.Config, error) {
	current, err := config.Load(env)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	over := map[string]string{
		"HF_PROVIDER_NAME":    current.ProviderName,
		"HF_PROVIDER_CONFDIR": filepath.Dir(abs),
		"HF_PROVIDER_WORKDIR": current.WorkDir,
		"HF_PROVIDER_LOGDIR":  current.LogDir,
		"HF_CONFIG_PATH":      current.ConfigFile,
	}
	return config.LoadTemplatesFrom(func(k string) string {
		if v, ok := over[k]; ok {
			return v
		}
		return env(k)
	}, abs)
}
