package config

import (
	"cmp"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// setting is one configuration value, known by IBM's key in
// awsprov_config.json and by its path in the OHFP integration guide's YAML
// layout. The table below is the only list of settings: loading, validation
// and the generated reference (docs/reference.md) all read it.
type setting struct {
	key  string // "" when only the YAML layout has it
	path string // "" when only IBM's file has it
	read reader[Config]
	doc  doc
}

// reader reads one value into a T and says what it accepts.
type reader[T any] struct {
	set     func(*T, field) error
	get     func(*T) any // the value read, in the unit it is written in; nil when it has no default
	typ     string       // string, integer, number, boolean, URL, path, ...
	unit    string
	allowed string
}

// doc is what the reference says about a setting or a template field.
type doc struct {
	about   string
	example string // as written in IBM's JSON
	def     string // the default, when it is not the value defaults() holds
	ibm     bool   // IBM's AWS plugin reads the same key with the same meaning
}

var settings = []setting{
	{"AWS_REGION", "provider.aws.region", region, doc{ibm: true, example: `"us-east-1"`,
		about: "Region to launch in. Required, in the file or as `AWS_REGION` in the environment."}},
	{"AWS_PROFILE", "provider.aws.profile", text(func(c *Config) *string { return &c.AWS.Profile }), doc{example: `"hostfactory"`,
		about: "Named profile of the shared AWS config and credentials files."}},
	{"AWS_CREDENTIAL_FILE", "provider.aws.credential_file", path(func(c *Config) *string { return &c.AWS.CredentialFile }), doc{ibm: true, example: `"/opt/ohfp/awsinst/conf/credentials"`,
		about: "Credentials file in the AWS shared-credentials format; relative to the conf folder. Unset: the standard chain (environment, profile, instance role)."}},
	{"AWS_ENDPOINT_URL", "provider.aws.endpoint_url", endpoint(func(c *Config) *string { return &c.AWS.EndpointURL }), doc{ibm: true, example: `"http://127.0.0.1:8787"`,
		about: "Endpoint for every AWS service the plugin calls: a VPC endpoint, or `ohfp sandbox` for a rehearsal."}},
	{"AWS_PROXY_HOST", "provider.aws.proxy_host", text(func(c *Config) *string { return &c.AWS.ProxyHost }), doc{ibm: true, example: `"proxy.example.com"`,
		about: "HTTP(S) proxy for AWS calls: a host name, or a URL with its scheme."}},
	{"AWS_PROXY_PORT", "provider.aws.proxy_port", count(func(c *Config) *int { return &c.AWS.ProxyPort }, 1, 65535), doc{ibm: true, example: "3128", def: "none",
		about: "Port of `AWS_PROXY_HOST`."}},
	{"AWS_CONNECTION_TIMEOUT_MS", "provider.aws.connection_timeout_ms", duration(func(c *Config) *time.Duration { return &c.AWS.ConnectionTimeout }, time.Millisecond, true), doc{ibm: true, example: "10000",
		about: "Longest wait to open a connection (and its TLS handshake) to AWS."}},
	{"", "provider.aws.timeout", duration(func(c *Config) *time.Duration { return &c.AWS.ConnectionTimeout }, time.Second, true), doc{example: "10",
		about: "The OHFP guides' spelling of `AWS_CONNECTION_TIMEOUT_MS`, in seconds."}},
	{"AWS_REQUEST_RETRY_ATTEMPTS", "provider.aws.max_retries", count(func(c *Config) *int { return &c.AWS.RetryAttempts }, 0, 10), doc{ibm: true, example: "3",
		about: "Retries of a throttled or failed AWS call, after the first attempt."}},
	{"AWS_INSTANCE_PENDING_TIMEOUT_SEC", "provider.aws.instance_pending_timeout_sec", duration(func(c *Config) *time.Duration { return &c.AWS.PendingTimeout }, time.Second, true), doc{ibm: true, example: "180",
		about: "An instance of a create request still `pending` after this long is terminated and reported `fail`."}},
	{"AWS_DESCRIBE_REQUEST_RETRY_ATTEMPTS", "provider.aws.describe_request_retry_attempts", count(func(c *Config) *int { return &c.AWS.DescribeRetryAttempts }, 0, 10), doc{ibm: true, example: "5",
		about: "Retries of read-only Describe calls, after the first attempt."}},
	{"AWS_DESCRIBE_REQUEST_INTERVAL", "provider.aws.describe_request_interval", duration(func(c *Config) *time.Duration { return &c.AWS.DescribeInterval }, time.Millisecond, false), doc{ibm: true, example: "500", def: "the SDK's backoff (up to 20 s)",
		about: "Longest wait between two retries of a Describe call; the SDK's jittered backoff stays below it."}},
	{"AWS_SPOT_TERMINATE_ON_RECLAIM", "provider.aws.spot_terminate_on_reclaim", flag(func(c *Config) *bool { return &c.AWS.SpotTerminateOnReclaim }), doc{ibm: true, example: "false",
		about: "Terminate a returned spot host that AWS has already marked for reclaim, instead of leaving it for AWS to take."}},
	{"INSTANCE_CREATION_TIMEOUT", "provider.aws.instance_creation_timeout", duration(func(c *Config) *time.Duration { return &c.AWS.CreationTimeout }, time.Minute, true), doc{ibm: true, example: "10",
		about: "Budget of a create request: past it, machines not yet up are failed, and tagged instances HostFactory never heard of may be reconciled. Also the budget of one operation when `HF_TIMEOUT` is unset."}},
	{"AWS_CREDENTIAL_SCRIPT", "provider.aws.credential_script", path(func(c *Config) *string { return &c.AWS.CredentialScript }), doc{ibm: true, example: `"/opt/lsf/conf/resource_connector/aws/federated_auth.sh"`,
		about: "A program that prints temporary credentials, as IBM's LSF plugins run it: an AWS credentials file (`[default]` with `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`) or JSON (`AccessKeyId`, `SecretAccessKey`, `SessionToken`, `Expiration`). Its output is kept in the work folder (0600) and reused until `AWS_CREDENTIAL_RENEW_MARGIN` has passed. Wins over `AWS_CREDENTIAL_FILE`, as in IBM's Java plugin; relative to the conf folder."}},
	{"AWS_CREDENTIAL_RENEW_MARGIN", "provider.aws.credential_renew_margin", duration(func(c *Config) *time.Duration { return &c.AWS.CredentialRenewMargin }, time.Second, false), doc{ibm: true, example: "1770",
		about: "How long the credentials `AWS_CREDENTIAL_SCRIPT` printed are used before it runs again; earlier when they say they expire sooner."}},
	{"AWS_KEY_FILE", "provider.aws.key_file", path(func(c *Config) *string { return &c.AWS.KeyFile }), doc{ibm: true, example: `"hf-compute.pem"`,
		about: "Read for compatibility and ignored: IBM's Java plugin keeps there the private key of a key pair it creates when `keyName` does not exist; ohfp creates no key pairs (`ohfp doctor` checks that `keyName` exists). `ohfp init --from-ibm` reports it."}},
	{"OHFP_RECONCILE_BUDGET_PERCENT", "provider.reconcile.budget_percent", count(func(c *Config) *int { return &c.Reconcile.BudgetPercent }, 0, 100), doc{example: "10",
		about: "Termination budget of one reconcile pass, as a share of this installation's live instances: past the larger of this and `OHFP_RECONCILE_BUDGET_MIN`, reconcile terminates nothing, logs an ERROR naming the instances and records an audit event (`ohfp reconcile --force` goes past it)."}},
	{"OHFP_RECONCILE_BUDGET_MIN", "provider.reconcile.budget_min", count(func(c *Config) *int { return &c.Reconcile.BudgetMin }, 0, 1000000), doc{example: "20",
		about: "Termination budget of one reconcile pass, in instances, when it is larger than `OHFP_RECONCILE_BUDGET_PERCENT` of the live ones."}},
	{"", "provider.type", providerType, doc{example: "aws",
		about: "The OHFP guides' provider type; only `aws`."}},

	{"OHFP_STORAGE", "storage.type", storageType, doc{example: `"dynamodb"`,
		about: "State store: one SQLite file on this host, or DynamoDB tables shared by several hosts ([ha.md](ha.md))."}},
	{"OHFP_SQLITE_PATH", "storage.sqlite.path", path(func(c *Config) *string { return &c.Storage.Path }), doc{example: `"/var/lib/ohfp/awsinst.db"`, def: "`<work folder>/ohfp.db`",
		about: "SQLite state file; relative to the work folder. A store serves one provider instance, named in `<file>.provider` by the first instance that uses it; with the default, other instances sharing the work folder each get `ohfp-<provider name>.db`, and a file set here that another instance holds is refused."}},
	{"OHFP_STATE_RETENTION_DAYS", "storage.retention_days", duration(func(c *Config) *time.Duration { return &c.Storage.Retention }, 24*time.Hour, true), doc{example: "30",
		about: "How long finished requests and their machines are kept."}},
	{"OHFP_DYNAMODB_TABLE_PREFIX", "storage.dynamodb.table_prefix", tablePrefix, doc{example: `"hf-prod"`,
		about: "Prefix of the DynamoDB tables (`<prefix>-requests`, `<prefix>-machines`, ...). Hosts that share state use the same prefix."}},
	{"OHFP_DYNAMODB_REGION", "storage.dynamodb.region", dynamoRegion, doc{example: `"us-east-1"`, def: "`AWS_REGION`",
		about: "Region of the DynamoDB tables, when it differs from the instances' region."}},
	{"OHFP_DYNAMODB_ENDPOINT_URL", "storage.dynamodb.endpoint_url", endpoint(func(c *Config) *string { return &c.Storage.DynamoDB.EndpointURL }), doc{example: `"http://127.0.0.1:8000"`,
		about: "DynamoDB endpoint: a VPC endpoint, or DynamoDB Local for tests."}},
	{"OHFP_DYNAMODB_AUTO_CREATE", "storage.dynamodb.auto_create", flag(func(c *Config) *bool { return &c.Storage.DynamoDB.AutoCreate }), doc{example: "false", def: "true",
		about: "Create the DynamoDB tables on first use when they are missing. Off, a missing table gives `CONFIGURATION_ERROR` naming `ohfp store init`."}},
	{"OHFP_DYNAMODB_BACKUP_ENABLED", "storage.dynamodb.backup_enabled", flag(func(c *Config) *bool { return &c.Storage.DynamoDB.BackupEnabled }), doc{example: "true", def: "false",
		about: "Turn on point-in-time recovery of the DynamoDB tables in `ohfp store init`; `ohfp doctor` checks it."}},

	{"LogLevel", "logging.level", logLevel, doc{ibm: true, example: `"INFO"`,
		about: "Log level. `HF_LOG_LEVEL` in the environment wins."}},
	{"OHFP_LOG_FILE", "logging.file_path", path(func(c *Config) *string { return &c.Logging.FilePath }), doc{example: `"/var/log/ohfp/awsinst.log"`, def: "`<log folder>/ohfp.log`",
		about: "Log file (JSON lines); relative to the log folder."}},
	{"OHFP_LOG_MAX_SIZE_MB", "logging.max_size", logSize, doc{example: "100",
		about: "Size at which the log file is rotated. The YAML layout also takes a unit: `\"100MB\"`, `\"512KB\"`, `\"1GB\"`."}},
	{"OHFP_LOG_BACKUP_COUNT", "logging.backup_count", count(func(c *Config) *int { return &c.Logging.BackupCount }, 0, 1000), doc{example: "5",
		about: "Rotated log files kept."}},
	{"OHFP_LOG_CONSOLE", "logging.console_enabled", flag(func(c *Config) *bool { return &c.Logging.Console }), doc{example: "true",
		about: "Also write log lines to standard error (never to standard output, which HostFactory parses)."}},

	{"OHFP_METRICS_ENABLED", "monitoring.enabled", flag(func(c *Config) *bool { return &c.Monitoring.Enabled }), doc{example: "true",
		about: "Push the operation counters, durations and resource gauges (instances and vCPUs by template, price type and state) to a Prometheus Pushgateway after every operation, grouped by job `ohfp`, provider instance and host. The counts are kept whatever this value, in `metrics.<provider>.json` of the work folder, which `ohfp serve` also reads at `/metrics`."}},
	{"OHFP_METRICS_ENDPOINT", "monitoring.metrics_endpoint", endpoint(func(c *Config) *string { return &c.Monitoring.MetricsEndpoint }), doc{example: `"http://127.0.0.1:9091"`,
		about: "The Pushgateway's URL (default `http://127.0.0.1:9091`); a trailing `/metrics`, as the OHFP integration guide writes it, is dropped. A push that fails within a second is a WARN line; the operation's answer is unchanged."}},

	{"OHFP_CACHING_ENABLED", "caching.enabled", notFlag(func(c *Config) *bool { return &c.Caching.Off }), doc{example: "false",
		about: "Keep cloud facts (instance types, image root devices, SSM image paths) in the store and the parsed YAML config in the work folder between calls. Off, every call asks AWS and parses the YAML again."}},
	{"OHFP_TEMPLATE_CACHE_TTL_SEC", "caching.template_cache_ttl", duration(func(c *Config) *time.Duration { return &c.Caching.FactTTL }, time.Second, false), doc{example: "300", def: "0 (instance types and root devices for good, SSM image paths an hour)",
		about: "How long the cloud facts a template's attributes and launch are derived from (instance types, image root devices, SSM image paths) are trusted."}},
	{"OHFP_CONFIG_CACHE_TTL_SEC", "caching.config_cache_ttl", duration(func(c *Config) *time.Duration { return &c.Caching.ConfigTTL }, time.Second, false), doc{example: "600", def: "0 (while the YAML text is unchanged)",
		about: "How long the parsed YAML config is reused while its text is unchanged."}},

	{"", "hostfactory.retry_attempts", count(func(c *Config) *int { return &c.AWS.RetryAttempts }, 0, 10), doc{example: "3",
		about: "The OHFP requirements guide's spelling of `AWS_REQUEST_RETRY_ATTEMPTS`."}},
	{"OHFP_LEGACY_MODE", "hostfactory.legacy_mode", flag(func(c *Config) *bool { return &c.LegacyMode }), doc{example: "true",
		about: "The human commands (`ohfp requests list`, ...) print HostFactory's camelCase keys and epoch-second times by default, as `--legacy` does; `--legacy=false` still gives snake_case. The five operations always answer in HostFactory's format."}},
	{"OHFP_FIELD_MAPPING", "hostfactory.field_mapping", fieldMapping, doc{example: `"camelCase"`, def: "`snake_case`",
		about: "`camelCase` does what `legacy_mode: true` does."}},
	{"OHFP_TIMEOUT_SEC", "hostfactory.timeout", timeout, doc{example: "120", def: "0 (`INSTANCE_CREATION_TIMEOUT` is the budget)",
		about: "Budget of one operation; `HF_TIMEOUT` in the environment wins."}},
	{"OHFP_POLICIES_FILE", "hostfactory.policies_file", path(func(c *Config) *string { return &c.PoliciesFile }), doc{example: `"/opt/ohfp/awsinst/conf/policies.json"`, def: "`policies.json` in the conf folder, except under LSF",
		about: "Admission policies in the format of LSF's `policy_config.json` ([policies.md](policies.md)); relative to the conf folder. Under LSF, which applies its own `policy_config.json`, ohfp applies policies only when this is set. A YAML config may give them instead in a top-level `policies:` list."}},
	{"OHFP_ACCESS_FILE", "hostfactory.access_file", path(func(c *Config) *string { return &c.AccessFile }), doc{example: `"/opt/ohfp/awsinst/conf/access.json"`, def: "`access.json` in the conf folder",
		about: "Who may do what from the CLI and HostFactory's scripts: Unix users and groups mapped to roles (viewer, operator with template grants, admin); relative to the conf folder. No file: everyone may do everything ([policies.md](policies.md#who-may-do-what))."}},
	{"OHFP_SCHEDULER", "hostfactory.scheduler", scheduler, doc{example: `"lsf"`, def: "`lsf` when LSF's `PRO_*` variables are set, else `symphony`",
		about: "Who runs the five scripts: Symphony's HostFactory or the LSF resource connector, whose attributes, user data, status fields and exit codes differ ([lsf.md](lsf.md)). Set it for commands an administrator runs outside LSF's environment."}},
}

var settingByKey, settingByPath = func() (byKey, byPath map[string]*setting) {
	byKey, byPath = map[string]*setting{}, map[string]*setting{}
	for i := range settings {
		if s := &settings[i]; s.key != "" {
			byKey[s.key] = s
		}
		if s := &settings[i]; s.path != "" {
			byPath[s.path] = s
		}
	}
	return byKey, byPath
}()

// seedSections are the top-level sections that mark the OHFP integration
// guide's layout.
var seedSections = map[string]bool{
	"provider": true, "storage": true, "logging": true, "monitoring": true,
	"caching": true, "hostfactory": true, "templates": true, "policies": true,
}

// defaults are the values a config file may leave out; paths that depend on
// the folders are filled in by finish.
func defaults() Config {
	return Config{
		Scheduler: SchedulerSymphony,
		AWS: AWS{
			ConnectionTimeout:     10 * time.Second,
			RetryAttempts:         3,
			DescribeRetryAttempts: 3,
			PendingTimeout:        180 * time.Second,
			CreationTimeout:       10 * time.Minute,
			CredentialRenewMargin: 1770 * time.Second, // IBM's LSF plugin: 29.5 minutes
		},
		Reconcile: Reconcile{BudgetPercent: 10, BudgetMin: 20},
		Storage:   Storage{Type: StorageSQLite, Retention: 30 * 24 * time.Hour, DynamoDB: DynamoDB{TablePrefix: "ohfp", AutoCreate: true}},
		Logging:   Logging{Level: "info", MaxSize: 100 << 20, BackupCount: 5},
	}
}

// readIBM applies the keys of an awsprov_config.json. The keys it does
// not read are judged once the whole file is read, since the file itself
// may say it is LSF's (OHFP_SCHEDULER).
func (c *Config) readIBM(s source, ms []field) error {
	var unread []field
	for _, m := range ms {
		st, ok := keyIn(settingByKey, m)
		if !ok {
			unread = append(unread, m)
			continue
		}
		if err := c.apply(s, st, m); err != nil {
			return err
		}
	}
	for _, m := range unread {
		if err := s.unread(m, c.LSF()); err != nil {
			return err
		}
	}
	return nil
}

// readSeeds applies the sections of the OHFP integration guide's layout and
// returns its templates and policies sections (nil raw when absent).
func (c *Config) readSeeds(s source, ms []field) (e embedded, err error) {
	if err := flattened(s, ms); err != nil {
		return embedded{}, err
	}
	for _, m := range ms {
		switch m.key() {
		case "templates":
			e.templates = m
		case "policies":
			e.policies = m
		default:
			if err := c.readSection(s, m); err != nil {
				return embedded{}, err
			}
		}
	}
	return e, nil
}

// flattened refuses a file whose nesting is lost, as YAML copied from a
// text rendering of the OHFP integration guide is: a section left empty
// while keys of its own sit at the top level, or template keys at the top
// level beside the templates. Read as written, such a file would silently
// mean something else.
func flattened(s source, ms []field) error {
	for _, m := range ms {
		section := m.key()
		if !seedSections[section] || !absent(m) {
			continue
		}
		var stray []string
		for _, o := range ms {
			if k := o.key(); !seedSections[k] && !slices.Contains(stray, k) && sectionHas(section, k) {
				stray = append(stray, k)
			}
		}
		if len(stray) > 0 {
			return s.errorf(section, "is empty, while %s, keys of %s, are at the top level: indent them under %s (was the YAML's indentation lost?)",
				strings.Join(stray, ", "), section, section)
		}
	}
	if !slices.ContainsFunc(ms, func(m field) bool { return m.key() == "templates" }) {
		return nil
	}
	var stray []string
	for _, m := range ms {
		if k := m.key(); !seedSections[k] && !slices.Contains(stray, k) {
			if _, ok := templateFieldIndex[k]; ok {
				stray = append(stray, k)
			}
		}
	}
	if len(stray) > 0 {
		return s.errorf("templates", "%s, keys of a template, are at the top level: indent them under their template (was the YAML's indentation lost?)",
			strings.Join(stray, ", "))
	}
	return nil
}

// sectionHas tells whether key is a setting, or a section of settings,
// directly under section.
func sectionHas(section, key string) bool {
	prefix := section + "." + key
	for path := range settingByPath {
		if path == prefix || strings.HasPrefix(path, prefix+".") {
			return true
		}
	}
	return false
}

// readSection applies one value of the OHFP integration guide's layout,
// descending into sections until a known setting is found.
func (c *Config) readSection(s source, m field) error {
	name := m.name()
	if st, ok := settingByPath[name]; ok {
		return c.apply(s, st, m)
	}
	sub, isObject := members(m.raw, name)
	if !isObject {
		if !absent(m) {
			s.ignore(name)
		}
		return nil
	}
	for _, m := range sub {
		if err := c.readSection(s, m); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) apply(s source, st *setting, f field) error {
	if absent(f) {
		return nil
	}
	if err := st.read.set(c, f); err != nil {
		return s.invalid(f, err)
	}
	return nil
}

// absent tells a value that counts as not given: missing, null, or an empty
// string (IBM's sample files leave unused keys as "").
func absent(f field) bool {
	return len(f.raw) == 0 || string(f.raw) == "null" || string(f.raw) == `""`
}

func text(p func(*Config) *string) reader[Config] {
	return reader[Config]{typ: "string", get: func(c *Config) any { return *p(c) },
		set: func(c *Config, f field) (err error) {
			*p(c), err = f.text()
			return err
		}}
}

// path is a text naming a file.
func path(p func(*Config) *string) reader[Config] {
	r := text(p)
	r.typ = "path"
	return r
}

func count(p func(*Config) *int, lo, hi int) reader[Config] {
	why := "must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)
	return reader[Config]{typ: "integer", allowed: strconv.Itoa(lo) + " to " + strconv.Itoa(hi),
		get: func(c *Config) any { return *p(c) },
		set: func(c *Config, f field) (err error) {
			*p(c), err = f.intWhere(func(n int) bool { return n >= lo && n <= hi }, why)
			return err
		}}
}

// duration reads a number of units; fractions are accepted ("0.5"
// minutes), since IBM's whole units are coarse for rehearsals and tests.
// With positive set, 0 is refused.
func duration(p func(*Config) *time.Duration, unit time.Duration, positive bool) reader[Config] {
	why, allowed := "must be a number of "+unitName[unit], "0 or more"
	if positive {
		why, allowed = "must be a positive number of "+unitName[unit], "more than 0"
	}
	return reader[Config]{typ: "number", unit: unitName[unit], allowed: allowed,
		get: func(c *Config) any { return float64(*p(c)) / float64(unit) },
		set: func(c *Config, f field) error {
			x, err := f.number()
			if err != nil || x < 0 || positive && x == 0 || x*float64(unit) > 1<<62 {
				return errors.New(why)
			}
			*p(c) = time.Duration(x * float64(unit))
			return nil
		}}
}

var unitName = map[time.Duration]string{
	time.Millisecond: "milliseconds", time.Second: "seconds", time.Minute: "minutes", 24 * time.Hour: "days",
}

func flag(p func(*Config) *bool) reader[Config] {
	return reader[Config]{typ: "boolean", allowed: "true, false", get: func(c *Config) any { return *p(c) },
		set: func(c *Config, f field) (err error) {
			*p(c), err = f.boolean()
			return err
		}}
}

// notFlag reads a boolean into its negation: a switch that is on by
// default is kept as an Off field, whose zero value is the default.
func notFlag(p func(*Config) *bool) reader[Config] {
	return reader[Config]{typ: "boolean", allowed: "true, false", get: func(c *Config) any { return !*p(c) },
		set: func(c *Config, f field) error {
			on, err := f.boolean()
			*p(c) = !on
			return err
		}}
}

func endpoint(p func(*Config) *string) reader[Config] {
	return reader[Config]{typ: "URL", allowed: "http:// or https://", get: func(c *Config) any { return *p(c) },
		set: func(c *Config, f field) error {
			s, err := f.text()
			if err != nil {
				return err
			}
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errors.New("must be an http:// or https:// URL")
			}
			*p(c) = s
			return nil
		}}
}

var region = regionIn(func(c *Config) *string { return &c.AWS.Region })

var dynamoRegion = regionIn(func(c *Config) *string { return &c.Storage.DynamoDB.Region })

func regionIn(p func(*Config) *string) reader[Config] {
	return reader[Config]{typ: "string", allowed: "an AWS region name", get: func(c *Config) any { return *p(c) },
		set: func(c *Config, f field) (err error) {
			*p(c), err = regionName(f)
			return err
		}}
}

// regionName accepts names shaped like AWS regions (us-east-1,
// us-gov-west-1), which catches a zone or a typo before any call is made.
func regionName(f field) (string, error) {
	s, err := f.text()
	parts := strings.Split(s, "-")
	ok := err == nil && len(parts) >= 3
	for i, p := range parts {
		if !ok {
			break
		}
		last := i == len(parts)-1
		for _, r := range p {
			ok = ok && (last && r >= '0' && r <= '9' || !last && r >= 'a' && r <= 'z')
		}
		ok = ok && p != ""
	}
	if !ok {
		return "", errors.New("must be an AWS region such as us-east-1")
	}
	return s, nil
}

var providerType = reader[Config]{typ: "string", allowed: "aws", get: func(*Config) any { return "aws" },
	set: func(_ *Config, f field) error {
		_, err := f.oneOf("aws")
		return err
	}}

var scheduler = reader[Config]{typ: "string", allowed: "symphony, lsf", get: func(c *Config) any { return string(c.Scheduler) },
	set: func(c *Config, f field) error {
		s, err := f.oneOf(string(SchedulerSymphony), string(SchedulerLSF))
		c.Scheduler = Scheduler(s)
		return err
	}}

var fieldMapping = reader[Config]{typ: "string", allowed: "snake_case, camelCase", get: func(c *Config) any { return string(cmp.Or(c.FieldMapping, SnakeCase)) },
	set: func(c *Config, f field) error {
		s, err := f.oneOf(string(SnakeCase), string(CamelCase))
		c.FieldMapping = FieldMapping(s)
		return err
	}}

var storageType = reader[Config]{typ: "string", allowed: "sqlite, dynamodb", get: func(c *Config) any { return string(c.Storage.Type) },
	set: func(c *Config, f field) error {
		s, err := f.oneOf(string(StorageSQLite), string(StorageDynamoDB))
		c.Storage.Type = StorageType(s)
		return err
	}}

// tablePrefix keeps to the characters DynamoDB allows in table names.
var tablePrefix = reader[Config]{typ: "string", allowed: "A-Z, a-z, 0-9, `_`, `-`, `.`", get: func(c *Config) any { return c.Storage.DynamoDB.TablePrefix },
	set: func(c *Config, f field) error {
		s, err := f.text()
		if err != nil {
			return err
		}
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.", r)) {
				return errors.New("must hold only A-Z, a-z, 0-9, _, - and .")
			}
		}
		c.Storage.DynamoDB.TablePrefix = s
		return nil
	}}

// logLevel maps IBM's and the OHFP integration guide's level names to slog's.
var logLevel = reader[Config]{typ: "string", allowed: "TRACE, DEBUG, INFO, WARN, ERROR (any case; WARNING, FATAL, CRITICAL too)",
	get: func(c *Config) any { return strings.ToUpper(c.Logging.Level) },
	set: func(c *Config, f field) error {
		s, _ := f.text()
		switch strings.ToUpper(s) {
		case "TRACE", "DEBUG":
			c.Logging.Level = "debug"
		case "INFO":
			c.Logging.Level = "info"
		case "WARN", "WARNING":
			c.Logging.Level = "warn"
		case "ERROR", "FATAL", "CRITICAL":
			c.Logging.Level = "error"
		default:
			return errors.New("must be one of TRACE, DEBUG, INFO, WARN, ERROR")
		}
		return nil
	}}

// logSize reads a size in MiB (a plain number, as OHFP_LOG_MAX_SIZE_MB) or
// with a unit as the OHFP integration guide writes it ("100MB", "512KB",
// "1GB"; 1024-based).
var logSize = reader[Config]{typ: "size", unit: "MiB", allowed: "more than 0",
	get: func(c *Config) any { return c.Logging.MaxSize >> 20 }, set: readLogSize}

func readLogSize(c *Config, f field) error {
	b, _ := f.scalar()
	s := strings.ToUpper(string(b))
	unit := int64(1 << 20)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, unit = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.size
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || !(n > 0 && n*float64(unit) <= 1<<50) {
		return errors.New(`must be a positive size in MB or with a unit such as "100MB"`)
	}
	c.Logging.MaxSize = int64(n * float64(unit))
	return nil
}

// timeout reads seconds (fractions allowed); 0 means no budget.
var timeout = reader[Config]{typ: "number", unit: "seconds", allowed: "0 to 1000000",
	set: func(c *Config, f field) error {
		x, err := f.number()
		if err != nil || x < 0 || x > 1e6 {
			return errors.New("must be a number of seconds, 0 for none")
		}
		c.Timeout = time.Duration(x * float64(time.Second))
		return nil
	}}
