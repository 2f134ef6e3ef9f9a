package install

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/lsf"
)

// fromIBM reads an IBM AWS plugin conf folder through config.Load, exactly
// as ohfp will read it, and plans its files for the new instance: the
// config with --region and --endpoint-url applied, the templates file as
// is, and the files they name inside the folder (user data scripts,
// credentials). What ohfp will not honour, and the templates it leaves
// out, go to res.NotHonoured. The folder may also be the one holding
// conf/ (ConfFolder); for LSF it is read as under LSF, and the config says
// so.
func fromIBM(opts Options, res *Result, files map[string]file) error {
	src, err := filepath.Abs(opts.FromIBM)
	if err != nil {
		return err
	}
	src = ConfFolder(src)
	name, err := InstanceName(src)
	if err != nil {
		return err
	}
	env := map[string]string{"HF_PROVIDER_NAME": name, "HF_PROVIDER_CONFDIR": src, "HF_PROVIDER_WORKDIR": os.TempDir()}
	if opts.LSF {
		env[lsf.EnvConfDir] = filepath.Dir(src)
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		return fmt.Errorf("reading the IBM folder %s: %w", src, err)
	}
	raw, err := os.ReadFile(cfg.ConfigFile)
	if err != nil {
		return err
	}
	var settings map[string]any
	if err := json.Unmarshal(raw, &settings); err != nil {
		return fmt.Errorf("%s: %w", cfg.ConfigFile, err)
	}
	if opts.Region != "" && opts.Region != cfg.AWS.Region {
		res.NotHonoured = append(res.NotHonoured, fmt.Sprintf("%s: AWS_REGION %s replaced by --region %s", filepath.Base(cfg.ConfigFile), cfg.AWS.Region, opts.Region))
		settings["AWS_REGION"] = opts.Region
	}
	if opts.EndpointURL != "" {
		settings["AWS_ENDPOINT_URL"] = opts.EndpointURL
	}
	if opts.LSF {
		settings["OHFP_SCHEDULER"] = string(config.SchedulerLSF)
	}
	configName, templatesName := fileNames(opts)
	files[filepath.Join(res.ConfDir, configName)] = jsonFile(settings)
	if cfg.TemplatesFile != "" && cfg.TemplatesFile != cfg.ConfigFile {
		files[filepath.Join(res.ConfDir, templatesName)] = file{copyFrom: cfg.TemplatesFile, mode: 0o644}
	}
	// Files the config names by a path inside the folder move with it;
	// paths outside it stay valid where they are.
	named := []string{cfg.AWS.CredentialFile}
	for _, t := range cfg.Templates {
		named = append(named, t.UserDataScript)
	}
	for _, p := range named {
		if rel, err := filepath.Rel(src, p); p != "" && err == nil && !strings.HasPrefix(rel, "..") {
			files[filepath.Join(res.ConfDir, rel)] = file{copyFrom: p, mode: 0o600}
		}
	}
	res.NotHonoured = append(res.NotHonoured, cfg.Ignored...)
	for _, r := range cfg.Rejected {
		res.NotHonoured = append(res.NotHonoured, "template "+r.ID+" left out: "+r.Err.Message)
	}
	if cfg.AWS.KeyFile != "" {
		res.NotHonoured = append(res.NotHonoured, filepath.Base(cfg.ConfigFile)+": AWS_KEY_FILE (ohfp signs with the credentials only)")
	}
	slices.Sort(res.NotHonoured)
	return nil
}

// ConfFolder is the folder of an IBM provider's JSON files given dir: dir
// itself, or its conf/ when only that holds them (LSF's confPath, and
// Symphony sites that keep a provider's files in
// $HF_CONFDIR/providers/<name>/conf).
func ConfFolder(dir string) string {
	if nested := filepath.Join(dir, lsf.ConfFolder); hasConfig(nested) && !hasConfig(dir) {
		return nested
	}
	return dir
}

// hasConfig reports whether dir holds an IBM config file.
func hasConfig(dir string) bool {
	matches, _ := filepath.Glob(filepath.Join(dir, "*prov_config.json"))
	return len(matches) > 0
}

// InstanceName finds the instance name of an IBM conf folder from its
// <name>prov_config.json (awsprov_config.json gives "aws").
func InstanceName(dir string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*prov_config.json"))
	if err != nil {
		return "", err
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("%s holds no *prov_config.json: not an IBM AWS plugin conf folder", dir)
	case 1:
		return strings.TrimSuffix(filepath.Base(matches[0]), "prov_config.json"), nil
	}
	return "", fmt.Errorf("%s holds several config files (%s): copy the one instance's files to a folder of their own", dir, strings.Join(matches, ", "))
}
