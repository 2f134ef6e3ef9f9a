package config

import (
	"cmp"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/lsf"
)

// Load reads the configuration of the provider instance that env (a lookup
// such as os.Getenv) describes, following the rules of the package doc.
// Every error is a *fault.Error with code CONFIGURATION_ERROR naming the
// file and the field.
func Load(env func(string) string) (*Config, error) {
	return load(env, "")
}

// LoadTemplatesFrom is Load with the templates read from file, whatever
// its name, instead of the conf folder's templates file: what
// `ohfp templates validate FILE` checks.
func LoadTemplatesFrom(env func(string) string, file string) (*Config, error) {
	return load(env, file)
}

func load(env func(string) string, templatesFile string) (*Config, error) {
	c := defaults()
	explicit, err := c.locate(env)
	if err != nil {
		return nil, err
	}
	s, data, err := c.findConfig(explicit)
	if err != nil {
		return nil, err
	}
	embedded, err := c.readConfig(&s, data)
	if err != nil {
		return nil, err
	}
	if err := c.readTemplatesFile(s, embedded.templates, templatesFile); err != nil {
		return nil, err
	}
	if err := c.readPolicies(s, embedded.policies); err != nil {
		return nil, err
	}
	if err := c.applyEnv(env); err != nil {
		return nil, err
	}
	if err := c.finish(s); err != nil {
		return nil, err
	}
	return &c, nil
}

// locate settles the instance name and its folders; it returns the explicit
// config file, if the environment names one.
func (c *Config) locate(env func(string) string) (explicit string, err error) {
	es := source{path: envSource}
	name, key := firstOf(env, "HF_PROVIDER_NAME", "HF_PROVIDER", "PROVIDER_NAME")
	if name == "" {
		name = "aws"
	} else if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", es.invalid(quoted(key, name), errors.New("must be a plain name"))
	}
	c.ProviderName = name
	explicit, _ = firstOf(env, "HF_CONFIG_PATH", "CONFIG_PATH")

	if lsf.Present(env) {
		c.Scheduler = SchedulerLSF
	}
	c.ClusterName = lsf.ClusterName(env(lsf.EnvScriptOpts))
	if d := env("OHFP_SCRIPT_DIR"); d != "" {
		if c.ScriptDir, err = filepath.Abs(d); err != nil {
			return "", es.errorf("", "cannot resolve folder %s: %v", d, err)
		}
	}

	conf := env("HF_PROVIDER_CONFDIR")
	switch {
	case conf != "":
	case env("HF_CONFDIR") != "":
		conf = filepath.Join(env("HF_CONFDIR"), "providers", name)
	case env(lsf.EnvConfDir) != "":
		conf = filepath.Join(env(lsf.EnvConfDir), lsf.ConfFolder)
	case env(lsf.EnvTop) != "":
		conf = filepath.Join(env(lsf.EnvTop), "conf", "resource_connector", name, lsf.ConfFolder)
	case explicit != "":
		conf = filepath.Dir(explicit)
	default:
		conf = "."
	}
	work := env("HF_PROVIDER_WORKDIR")
	switch {
	case work != "":
	case env("HF_WORKDIR") != "":
		work = filepath.Join(env("HF_WORKDIR"), "providers", name)
	case env(lsf.EnvDataDir) != "":
		// LSF's data folder is shared by every provider of the cluster.
		work = filepath.Join(env(lsf.EnvDataDir), name)
	default:
		work = conf
		c.Storage.Guessed = true
	}
	logs := env("HF_PROVIDER_LOGDIR")
	switch {
	case logs != "":
	case env("HF_LOGDIR") != "":
		logs = env("HF_LOGDIR")
	case env(lsf.EnvLogDir) != "":
		logs = env(lsf.EnvLogDir)
	default:
		logs = work
	}
	for _, d := range []struct {
		dst *string
		dir string
	}{{&c.ConfDir, conf}, {&c.WorkDir, work}, {&c.LogDir, logs}} {
		if *d.dst, err = filepath.Abs(d.dir); err != nil {
			return "", es.errorf("", "cannot resolve folder %s: %v", d.dir, err)
		}
	}
	return explicit, nil
}

func firstOf(env func(string) string, keys ...string) (value, key string) {
	for _, k := range keys {
		if v := env(k); v != "" {
			return v, k
		}
	}
	return "", keys[0]
}

// findConfig reads the explicit config file, or the first of IBM's names and
// the OHFP integration guide's names found in the conf folder.
func (c *Config) findConfig(explicit string) (source, []byte, error) {
	tried := []string{explicit}
	if explicit == "" {
		tried = c.candidates("prov_config.json", "config.yml", "config.yaml")
	}
	path, data, err := readFirst(tried)
	if err != nil {
		return source{}, nil, err
	}
	if path == "" {
		return source{}, nil, fault.New(fault.Configuration, "no configuration file: tried %s (set HF_PROVIDER_CONFDIR or HF_CONFIG_PATH)",
			strings.Join(tried, ", ")).With("file", tried[0]).With("tried", tried)
	}
	c.ConfigFile = path
	return source{path: path, ignored: &c.Ignored}, data, nil
}

// candidates are IBM's instance-named file, IBM's default one, then others.
func (c *Config) candidates(ibmSuffix string, others ...string) []string {
	names := []string{c.ProviderName + ibmSuffix}
	if c.ProviderName != "aws" {
		names = append(names, "aws"+ibmSuffix)
	}
	names = append(names, others...)
	for i, n := range names {
		names[i] = filepath.Join(c.ConfDir, n)
	}
	return names
}

// readFirst reads the first file of paths that exists; path is "" when none
// does.
func readFirst(paths []string) (path string, data []byte, err error) {
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		data, err := os.ReadFile(abs)
		switch {
		case err == nil:
			return abs, data, nil
		case !errors.Is(err, fs.ErrNotExist):
			return "", nil, source{path: abs}.errorf("", "cannot read: %v", err)
		}
	}
	return "", nil, nil
}

// embedded are the sections of a config file that other files may give
// instead (nil raw when absent).
type embedded struct {
	templates, policies field
}

// readConfig applies a config file: JSON when it starts with '{', YAML
// otherwise; the OHFP integration guide's layout when its top level has one of
// its sections, IBM's flat keys otherwise. It returns the sections the file
// embeds.
func (c *Config) readConfig(s *source, data []byte) (e embedded, err error) {
	trimmed := strings.TrimLeft(strings.TrimPrefix(string(data), "\xef\xbb\xbf"), " \t\r\n")
	if !strings.HasPrefix(trimmed, "{") {
		cache := yamlCache{dir: c.WorkDir, name: yamlCacheName + "." + c.ProviderName, yaml: data}
		if data, err = cache.read(); err != nil {
			return embedded{}, s.errorf("", "invalid YAML: %v", err)
		}
		// The caching settings are in the file itself: the cache is kept,
		// refreshed or dropped once they are read.
		defer func() {
			if err == nil {
				cache.settle(c.Caching)
			}
		}()
	}
	ms, err := s.parseJSON(data)
	if err != nil {
		return embedded{}, err
	}
	for _, m := range ms {
		_, section := keyIn(seedSections, m)
		s.seeds = s.seeds || section
	}
	if !s.seeds {
		return embedded{}, c.readIBM(*s, ms)
	}
	return c.readSeeds(*s, ms)
}

// readTemplatesFile reads IBM's templates file from the conf folder; when
// there is none, the templates embedded in the config file (cs) are used.
func (c *Config) readTemplatesFile(cs source, embedded field, file string) error {
	tried := c.candidates("prov_templates.json")
	if file != "" {
		tried = []string{file}
	}
	path, data, err := readFirst(tried)
	if file != "" && err == nil && path == "" {
		return source{path: file}.errorf("", "no such file")
	}
	if err != nil {
		return err
	}
	if path == "" {
		if !absent(embedded) {
			c.TemplatesFile = c.ConfigFile
		}
		return c.readTemplates(cs, embedded)
	}
	if !absent(embedded) {
		cs.ignore("templates (" + filepath.Base(path) + " is used)")
	}
	c.TemplatesFile = path
	s := source{path: path, ignored: &c.Ignored}
	ms, err := s.parseJSON(data)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.key() == "templates" {
			if err := c.readTemplates(s, m); err != nil {
				return err
			}
		} else {
			s.ignore(m.name())
		}
	}
	return nil
}

// envSettings are the settings the environment overrides (or, for
// AWS_REGION, supplies when the file has none).
var envSettings = []struct {
	names    []string
	key      string
	fallback bool
}{
	{[]string{"HF_LOG_LEVEL", "LOG_LEVEL"}, "LogLevel", false},
	{[]string{"HF_TIMEOUT"}, "OHFP_TIMEOUT_SEC", false},
	{[]string{"AWS_REGION"}, "AWS_REGION", true},
}

func (c *Config) applyEnv(env func(string) string) error {
	for _, e := range envSettings {
		v, name := firstOf(env, e.names...)
		if v == "" || e.fallback && c.AWS.Region != "" {
			continue
		}
		if err := c.apply(source{path: envSource}, settingByKey[e.key], quoted(name, v)); err != nil {
			return err
		}
	}
	return nil
}

// finish checks what the file may omit only if the environment supplies it,
// and anchors relative paths: state under the work folder, logs under the
// log folder, everything else under the conf folder.
func (c *Config) finish(s source) error {
	if c.AWS.Region == "" {
		name := "AWS_REGION"
		if s.seeds {
			name = "provider.aws.region"
		}
		return s.errorf(name, "is required (or set AWS_REGION in the environment)")
	}
	if c.Storage.DynamoDB.Region == "" {
		c.Storage.DynamoDB.Region = c.AWS.Region
	}
	c.Storage.Guessed = c.Storage.Guessed && !filepath.IsAbs(c.Storage.Path)
	c.Storage.Defaulted = c.Storage.Path == ""
	c.Storage.Path = under(c.WorkDir, c.Storage.Path, "ohfp.db")
	c.Logging.FilePath = under(c.LogDir, c.Logging.FilePath, c.logName())
	c.AWS.CredentialFile = under(c.ConfDir, c.AWS.CredentialFile, "")
	c.AWS.KeyFile = under(c.ConfDir, c.AWS.KeyFile, "")
	explicit := c.AccessFile != ""
	c.AccessFile = under(c.ConfDir, c.AccessFile, "access.json")
	if _, err := os.Stat(c.AccessFile); explicit && err != nil {
		// A typo must not turn access control off.
		return s.errorf("OHFP_ACCESS_FILE", "names %s, which cannot be read: %v", c.AccessFile, err)
	}
	c.AWS.CredentialScript = under(c.ConfDir, c.AWS.CredentialScript, "")
	if c.AWS.CredentialScript != "" {
		c.AWS.CredentialCache = filepath.Join(c.WorkDir, "ohfp-credentials")
		if c.AWS.CredentialFile != "" {
			s.ignore("AWS_CREDENTIAL_FILE (AWS_CREDENTIAL_SCRIPT is used)")
		}
	}
	return nil
}

// logName is the log file's name in the log folder. LSF_LOGDIR is shared
// by LSF's daemons and often by several hosts, so under LSF the name says
// which provider and host wrote it, as IBM's plugins name theirs.
func (c *Config) logName() string {
	if !c.LSF() {
		return "ohfp.log"
	}
	host, _ := os.Hostname()
	return c.ProviderName + "-ohfp.log." + cmp.Or(host, "localhost")
}

// lsfUserData is the user_data.sh of the scripts' folder, which IBM's LSF
// plugin passes to every host it launches; "" when not under LSF or absent.
func (c *Config) lsfUserData() string {
	if !c.LSF() || c.ScriptDir == "" {
		return ""
	}
	p := filepath.Join(c.ScriptDir, lsf.UserDataScript)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// under anchors a relative path in dir; an empty path becomes def there
// (or stays empty when def is "").
func under(dir, path, def string) string {
	if path == "" {
		path = def
	}
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}
