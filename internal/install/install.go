// Package install lays out a HostFactory provider instance for ohfp (what
// `ohfp init` does): the conf folder with the config and templates files,
// the scripts folder with the five provider scripts (and the one they
// share) and the binary, and the
// entries HostFactory's hostProviders.json and hostProviderPlugins.json
// need. It can start from an existing IBM AWS plugin conf folder.
package install

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/installation"
	"github.com/ohfp/ohfp/internal/lsf"
	"github.com/ohfp/ohfp/scripts"
)

// PluginName is the name an instance's scripts folder is registered under
// in hostProviderPlugins.json: one plugin per instance, since each has a
// scripts folder (and binary) of its own, and apart from IBM's "aws".
func PluginName(instance string) string { return "ohfp_" + instance }

// StarterImage is the image of the starter template: an SSM path that
// resolves in every region (and in the sandbox).
const StarterImage = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"

// Options says what to lay out.
type Options struct {
	Name        string // provider instance name, such as awsinst
	Region      string // AWS_REGION (taken from the IBM folder when empty)
	Dir         string // folder to write: conf, scripts, work and log under it
	FromIBM     string // an IBM AWS plugin conf folder to start from
	EndpointURL string // AWS_ENDPOINT_URL, for the sandbox or a VPC endpoint
	Binary      string // the ohfp binary copied into the scripts folder
	Force       bool   // overwrite existing files
	Owner       string // user[:group] to own the folder (the HostFactory user); "" leaves it as is
	// LSF lays the folder out for LSF's resource connector: conf/ and
	// scripts/ (with user_data.sh) under one folder that is both the
	// provider's confPath and scriptPath; LSF gives work and log folders.
	LSF bool
}

// Result is what Init wrote and what the administrator must do next.
type Result struct {
	ConfDir, ScriptDir, WorkDir, LogDir string
	Written                             []string
	// InstallationID is the installation's id, made now or kept from
	// before: --force never changes it, since instances carry it.
	InstallationID string
	// Kept are existing files left as they were (no --force); Updated
	// are existing configs whose region or endpoint was set.
	Kept, Updated []string
	// Chown is the command that gives the folder to the HostFactory user,
	// when Init ran as root without an owner; "" otherwise.
	Chown string
	// NotHonoured lists the settings of an IBM folder that ohfp ignores.
	NotHonoured []string
	// HostProviders and HostProviderPlugins are the entries to add to
	// HostFactory's files of those names; under LSF, HostProviders is the
	// entry of LSF's hostProviders.json, and LSF has no plugins file.
	HostProviders, HostProviderPlugins json.RawMessage
}

// lsfUserData is the user_data.sh init writes for LSF: the exports at
// IBM's placeholder, then the host joins the cluster (docs/lsf.md).
//
//go:embed lsf_user_data.sh
var lsfUserData []byte

// LSFSetting is a setting of LSF's own configuration to check before the
// resource connector borrows hosts through ohfp.
type LSFSetting struct{ File, Name, Why string }

// LSFSettings are the LSF settings docs/lsf.md explains, in the order an
// administrator meets them.
var LSFSettings = []LSFSetting{
	{"lsf.shared", "awshost", "a Boolean resource that marks cloud hosts; the templates' attributes set it"},
	{"lsf.conf", "LSB_RC_EXTERNAL_HOST_FLAG", "names that resource (\"awshost\"): it turns the resource connector on"},
	{"lsb.modules", "schmod_demand", "the scheduler plug-in that asks for hosts: uncomment it (it is commented out at installation)"},
	{"lsb.queues", "RC_HOSTS", "the queues whose jobs may borrow cloud hosts"},
	{"lsf.conf", "LSB_RC_EXTERNAL_HOST_IDLE_TIME", "how long an idle cloud host is kept before LSF returns it"},
	{"lsf.conf", "LSB_RC_EXTERNAL_HOST_MAX_TTL", "the longest a cloud host is kept at all"},
	{"lsf.conf", "LSF_DYNAMIC_HOST_WAIT_TIME", "cloud hosts join as dynamic hosts"},
	{"lsf.conf", "LSF_DYNAMIC_HOST_TIMEOUT", "how long an unavailable dynamic host stays in the cluster"},
	{"lsf.conf", "LSF_LOCAL_RESOURCES", "on the image: user_data.sh adds rc_account, templateID, clusterName, providerName and instanceID to it"},
}

// Init writes the provider instance folder opts describes. An existing
// file is kept unless opts.Force is set, except that an existing config
// gets opts.Region and opts.EndpointURL, so that a folder can be pointed at
// the sandbox (or back) without hand edits.
func Init(opts Options) (*Result, error) {
	if opts.Name == "" || strings.ContainsAny(opts.Name, `/\ `) {
		return nil, fmt.Errorf("--name must be a plain provider instance name such as awsinst, got %q", opts.Name)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	res := &Result{ConfDir: filepath.Join(dir, "conf"), ScriptDir: filepath.Join(dir, "scripts"),
		WorkDir: filepath.Join(dir, "work"), LogDir: filepath.Join(dir, "log")}
	if opts.LSF {
		// LSF sets the work and log folders: PRO_DATA_DIR, PRO_LSF_LOGDIR.
		res.WorkDir, res.LogDir = "", ""
	}
	configName, templatesName := fileNames(opts)
	files := map[string]file{}
	if opts.FromIBM != "" {
		if err := fromIBM(opts, res, files); err != nil {
			return nil, err
		}
	} else {
		if opts.Region == "" {
			return nil, errors.New("--region is required (or --from-ibm a folder that names one)")
		}
		files[filepath.Join(res.ConfDir, configName)] = jsonFile(newConfig(opts))
		files[filepath.Join(res.ConfDir, templatesName)] = jsonFile(starterTemplates(opts.LSF))
	}
	names, _ := fs.Glob(scripts.Files, "*.sh")
	for _, name := range names {
		data, _ := scripts.Files.ReadFile(name)
		files[filepath.Join(res.ScriptDir, name)] = file{data: data, mode: 0o755}
	}
	if opts.LSF {
		files[filepath.Join(res.ScriptDir, lsf.UserDataScript)] = file{data: lsfUserData, mode: 0o644}
	}
	if opts.Binary != "" {
		files[filepath.Join(res.ScriptDir, "ohfp")] = file{copyFrom: opts.Binary, mode: 0o755}
	}
	configPath := filepath.Join(res.ConfDir, configName)
	updated := false
	if !opts.Force {
		for path := range files {
			if _, err := os.Lstat(path); err != nil {
				continue
			}
			delete(files, path)
			if path != configPath {
				res.Kept = append(res.Kept, path)
				continue
			}
			f, changed, err := pointConfig(path, opts)
			if err != nil {
				return nil, err
			}
			if changed {
				files[path], updated = f, true
			} else {
				res.Kept = append(res.Kept, path)
			}
		}
		slices.Sort(res.Kept)
	}
	owner, err := lookupOwner(opts.Owner)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{dir, res.ConfDir, res.ScriptDir, res.WorkDir, res.LogDir} {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		if err := owner.chown(d); err != nil {
			return nil, err
		}
	}
	for _, path := range slices.Sorted(maps.Keys(files)) {
		if err := files[path].write(path); err != nil {
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
		if err := owner.chown(path); err != nil {
			return nil, err
		}
		if path == configPath && updated {
			res.Updated = append(res.Updated, path)
		} else {
			res.Written = append(res.Written, path)
		}
	}
	if opts.Owner == "" && os.Geteuid() == 0 {
		user := "<hostfactory-user>"
		if opts.LSF {
			user = "<lsf-admin>" // the LSF administrator runs ebrokerd's scripts
		}
		res.Chown = "chown -R " + user + ": " + dir
	}
	_, existed, err := installation.Read(res.ConfDir)
	if err != nil {
		return nil, err
	}
	if res.InstallationID, err = installation.Ensure(res.ConfDir); err != nil {
		return nil, err
	}
	if !existed {
		if err := owner.chown(installation.Path(res.ConfDir)); err != nil {
			return nil, err
		}
		res.Written = append(res.Written, installation.Path(res.ConfDir))
	}
	if opts.LSF {
		res.HostProviders = lsfEntry(opts.Name, dir)
	} else {
		res.HostProviders, res.HostProviderPlugins = entries(opts.Name, res)
	}
	return res, nil
}

// fileNames are the config and templates files of the instance: IBM's
// instance-named ones for HostFactory, and for LSF the names IBM's LSF
// plugin always reads.
func fileNames(opts Options) (configName, templatesName string) {
	prefix := opts.Name
	if opts.LSF {
		prefix = "aws"
	}
	return prefix + "prov_config.json", prefix + "prov_templates.json"
}

// pointConfig applies opts' region and endpoint to an existing IBM config
// file; changed is false when it already has them.
func pointConfig(path string, opts Options) (f file, changed bool, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return file{}, false, err
	}
	var settings map[string]any
	if err := json.Unmarshal(raw, &settings); err != nil {
		return file{}, false, fmt.Errorf("%s exists and is not a JSON config (%v); use --force to replace it", path, err)
	}
	for key, value := range map[string]string{"AWS_REGION": opts.Region, "AWS_ENDPOINT_URL": opts.EndpointURL} {
		if value != "" && settings[key] != value {
			settings[key], changed = value, true
		}
	}
	f = jsonFile(settings)
	st, err := os.Stat(path)
	if err != nil {
		return file{}, false, err
	}
	f.mode = st.Mode().Perm()
	return f, changed, nil
}

// file is one file to write: data, or a copy of another file.
type file struct {
	data     []byte
	copyFrom string
	mode     fs.FileMode
}

func jsonFile(v any) file {
	b, _ := json.MarshalIndent(v, "", "  ")
	return file{data: append(b, '\n'), mode: 0o644}
}

func (f file) write(path string) error {
	if f.copyFrom == "" {
		return writeAtomic(path, f.mode, func(w io.Writer) error { _, err := w.Write(f.data); return err })
	}
	src, err := os.Open(f.copyFrom)
	if err != nil {
		return err
	}
	defer src.Close()
	return writeAtomic(path, f.mode, func(w io.Writer) error { _, err := io.Copy(w, src); return err })
}

// writeAtomic writes through a temporary file renamed over path, so that a
// running binary being replaced (an upgrade) is never seen half written.
func writeAtomic(path string, mode fs.FileMode, fill func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// script is the provider script of op: it runs the ohfp next to it, or
// $OHFP_BIN when set, telling it its own folder (where LSF's user_data.sh
// lives).
func newConfig(opts Options) map[string]any {
	c := map[string]any{
		"AWS_REGION":                       opts.Region,
		"AWS_CONNECTION_TIMEOUT_MS":        10000,
		"AWS_REQUEST_RETRY_ATTEMPTS":       3,
		"AWS_INSTANCE_PENDING_TIMEOUT_SEC": 180,
		"INSTANCE_CREATION_TIMEOUT":        10,
		"LogLevel":                         "INFO",
		"OHFP_STORAGE":                     "sqlite",
		"OHFP_LOG_MAX_SIZE_MB":             100,
		"OHFP_LOG_BACKUP_COUNT":            5,
	}
	if opts.EndpointURL != "" {
		c["AWS_ENDPOINT_URL"] = opts.EndpointURL
	}
	if opts.LSF {
		c["OHFP_SCHEDULER"] = string(config.SchedulerLSF)
	}
	return c
}

// starterTemplates is one template that runs as is (default VPC subnet and
// security group, Amazon Linux from SSM), to be completed with the
// account's subnets, security groups, key pair and instance profile. For
// LSF it also carries the awshost resource that marks cloud hosts.
func starterTemplates(lsf bool) map[string]any {
	t := map[string]any{
		"templateId":   "OnDemand-Starter-Template",
		"maxNumber":    10,
		"priceType":    config.PriceOnDemand,
		"providerApi":  config.APIRunInstances,
		"imageId":      StarterImage,
		"vmType":       "t3.micro",
		"instanceTags": "ohfp:template=starter",
	}
	if lsf {
		t["attributes"] = map[string]any{"awshost": []string{"Boolean", "1"}}
	}
	return map[string]any{"templates": []map[string]any{t}}
}

// providerEntry and pluginEntry are IBM's version 2 entries, fields in
// IBM's order.
type providerEntry struct {
	Name     string `json:"name"`
	Enabled  int    `json:"enabled"`
	Plugin   string `json:"plugin"`
	ConfPath string `json:"confPath"`
	WorkPath string `json:"workPath"`
	LogPath  string `json:"logPath"`
}

type pluginEntry struct {
	Name       string `json:"name"`
	Enabled    int    `json:"enabled"`
	ScriptPath string `json:"scriptPath"`
}

// lsfEntry is the provider's entry in LSF's hostProviders.json: dir is
// both its confPath (ebrokerd's PRO_CONF_DIR, holding conf/) and its
// scriptPath (holding scripts/).
func lsfEntry(name, dir string) json.RawMessage {
	type entry struct {
		Name       string `json:"name"`
		Type       string `json:"type"`
		ConfPath   string `json:"confPath"`
		ScriptPath string `json:"scriptPath"`
	}
	b, _ := json.MarshalIndent(struct {
		Providers []entry `json:"providers"`
	}{[]entry{{name, "awsProv", dir, dir}}}, "", "  ")
	return b
}

// entries are the hostProviders.json and hostProviderPlugins.json entries
// for the instance.
func entries(name string, res *Result) (providers, plugins json.RawMessage) {
	providers, _ = json.MarshalIndent(struct {
		Version   int             `json:"version"`
		Providers []providerEntry `json:"providers"`
	}{2, []providerEntry{{name, 1, PluginName(name), res.ConfDir + "/", res.WorkDir + "/", res.LogDir + "/"}}}, "", "  ")
	plugins, _ = json.MarshalIndent(struct {
		Version int           `json:"version"`
		Plugins []pluginEntry `json:"providerplugins"`
	}{2, []pluginEntry{{PluginName(name), 1, res.ScriptDir + "/"}}}, "", "  ")
	return providers, plugins
}
