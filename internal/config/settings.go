package config

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// setting is one configuration value, known by IBM's key in
// awsprov_config.json and by its path in the seeds' YAML layout.
type setting struct {
	key  string // "" when only the YAML layout has it
	path string // "" when only IBM's file has it
	set  func(c *Config, f field) error
}

var settings = []setting{
	{"AWS_REGION", "provider.aws.region", region},
	{"AWS_PROFILE", "provider.aws.profile", text(func(c *Config) *string { return &c.AWS.Profile })},
	{"AWS_CREDENTIAL_FILE", "provider.aws.credential_file", text(func(c *Config) *string { return &c.AWS.CredentialFile })},
	{"AWS_ENDPOINT_URL", "provider.aws.endpoint_url", endpoint(func(c *Config) *string { return &c.AWS.EndpointURL })},
	{"AWS_PROXY_HOST", "provider.aws.proxy_host", text(func(c *Config) *string { return &c.AWS.ProxyHost })},
	{"AWS_PROXY_PORT", "provider.aws.proxy_port", count(func(c *Config) *int { return &c.AWS.ProxyPort }, 1, 65535)},
	{"AWS_CONNECTION_TIMEOUT_MS", "provider.aws.connection_timeout_ms", duration(func(c *Config) *time.Duration { return &c.AWS.ConnectionTimeout }, time.Millisecond, true)},
	{"", "provider.aws.timeout", duration(func(c *Config) *time.Duration { return &c.AWS.ConnectionTimeout }, time.Second, true)},
	{"AWS_REQUEST_RETRY_ATTEMPTS", "provider.aws.max_retries", count(func(c *Config) *int { return &c.AWS.RetryAttempts }, 0, 10)},
	{"AWS_INSTANCE_PENDING_TIMEOUT_SEC", "provider.aws.instance_pending_timeout_sec", duration(func(c *Config) *time.Duration { return &c.AWS.PendingTimeout }, time.Second, true)},
	{"AWS_DESCRIBE_REQUEST_RETRY_ATTEMPTS", "provider.aws.describe_request_retry_attempts", count(func(c *Config) *int { return &c.AWS.DescribeRetryAttempts }, 0, 10)},
	{"AWS_DESCRIBE_REQUEST_INTERVAL", "provider.aws.describe_request_interval", duration(func(c *Config) *time.Duration { return &c.AWS.DescribeInterval }, time.Millisecond, false)},
	{"AWS_SPOT_TERMINATE_ON_RECLAIM", "provider.aws.spot_terminate_on_reclaim", flag(func(c *Config) *bool { return &c.AWS.SpotTerminateOnReclaim })},
	{"INSTANCE_CREATION_TIMEOUT", "provider.aws.instance_creation_timeout", duration(func(c *Config) *time.Duration { return &c.AWS.CreationTimeout }, time.Minute, true)},
	{"AWS_KEY_FILE", "provider.aws.key_file", text(func(c *Config) *string { return &c.AWS.KeyFile })},
	{"", "provider.type", providerType},

	{"OHFP_STORAGE", "storage.type", storageType},
	{"OHFP_SQLITE_PATH", "storage.sqlite.path", text(func(c *Config) *string { return &c.Storage.Path })},
	{"OHFP_STATE_RETENTION_DAYS", "storage.retention_days", duration(func(c *Config) *time.Duration { return &c.Storage.Retention }, 24*time.Hour, true)},
	{"OHFP_DYNAMODB_TABLE_PREFIX", "storage.dynamodb.table_prefix", tablePrefix},
	{"OHFP_DYNAMODB_REGION", "storage.dynamodb.region", dynamoRegion},
	{"OHFP_DYNAMODB_ENDPOINT_URL", "storage.dynamodb.endpoint_url", endpoint(func(c *Config) *string { return &c.Storage.DynamoDB.EndpointURL })},

	{"LogLevel", "logging.level", logLevel},
	{"OHFP_LOG_FILE", "logging.file_path", text(func(c *Config) *string { return &c.Logging.FilePath })},
	{"OHFP_LOG_MAX_SIZE_MB", "logging.max_size", logSize},
	{"OHFP_LOG_BACKUP_COUNT", "logging.backup_count", count(func(c *Config) *int { return &c.Logging.BackupCount }, 0, 1000)},
	{"OHFP_LOG_CONSOLE", "logging.console_enabled", flag(func(c *Config) *bool { return &c.Logging.Console })},

	{"OHFP_METRICS_ENABLED", "monitoring.enabled", flag(func(c *Config) *bool { return &c.Monitoring.Enabled })},
	{"OHFP_METRICS_ENDPOINT", "monitoring.metrics_endpoint", endpoint(func(c *Config) *string { return &c.Monitoring.MetricsEndpoint })},

	{"OHFP_TIMEOUT_SEC", "hostfactory.timeout", timeout},
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

// seedSections are the top-level sections that mark the seeds' layout.
var seedSections = map[string]bool{
	"provider": true, "storage": true, "logging": true, "monitoring": true,
	"caching": true, "hostfactory": true, "templates": true,
}

// defaults are the values a config file may leave out; paths that depend on
// the folders are filled in by finish.
func defaults() Config {
	return Config{
		AWS: AWS{
			ConnectionTimeout:     10 * time.Second,
			RetryAttempts:         3,
			DescribeRetryAttempts: 3,
			PendingTimeout:        180 * time.Second,
			CreationTimeout:       10 * time.Minute,
		},
		Storage: Storage{Type: "sqlite", Retention: 30 * 24 * time.Hour, DynamoDB: DynamoDB{TablePrefix: "ohfp"}},
		Logging: Logging{Level: "info", MaxSize: 100 << 20, BackupCount: 5},
	}
}

// readIBM applies the keys of an awsprov_config.json.
func (c *Config) readIBM(s source, ms []field) error {
	for _, m := range ms {
		st, ok := keyIn(settingByKey, m)
		if !ok {
			s.ignore(m.name())
			continue
		}
		if err := c.apply(s, st, m); err != nil {
			return err
		}
	}
	return nil
}

// readSeeds applies the sections of the seeds' layout and returns its
// templates section (nil raw when absent).
func (c *Config) readSeeds(s source, ms []field) (templates field, err error) {
	for _, m := range ms {
		if m.key() == "templates" {
			templates = m
			continue
		}
		if err := c.readSection(s, m); err != nil {
			return field{}, err
		}
	}
	return templates, nil
}

// readSection applies one value of the seeds' layout, descending into
// sections until a known setting is found.
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
	if err := st.set(c, f); err != nil {
		return s.invalid(f, err)
	}
	return nil
}

// absent tells a value that counts as not given: missing, null, or an empty
// string (IBM's sample files leave unused keys as "").
func absent(f field) bool {
	return len(f.raw) == 0 || string(f.raw) == "null" || string(f.raw) == `""`
}

func text(p func(*Config) *string) func(*Config, field) error {
	return func(c *Config, f field) error {
		s, err := f.text()
		*p(c) = s
		return err
	}
}

func count(p func(*Config) *int, lo, hi int) func(*Config, field) error {
	why := "must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)
	return func(c *Config, f field) (err error) {
		*p(c), err = f.intWhere(func(n int) bool { return n >= lo && n <= hi }, why)
		return err
	}
}

// duration reads a whole number of units, at least least.
// duration reads a number of units; fractions are accepted ("0.5"
// minutes), since IBM's whole units are coarse for rehearsals and tests.
// With positive set, 0 is refused.
func duration(p func(*Config) *time.Duration, unit time.Duration, positive bool) func(*Config, field) error {
	why := "must be a number of " + unitName[unit]
	if positive {
		why = "must be a positive number of " + unitName[unit]
	}
	return func(c *Config, f field) error {
		x, err := f.number()
		if err != nil || x < 0 || positive && x == 0 || x*float64(unit) > 1<<62 {
			return errors.New(why)
		}
		*p(c) = time.Duration(x * float64(unit))
		return nil
	}
}

var unitName = map[time.Duration]string{
	time.Millisecond: "milliseconds", time.Second: "seconds", time.Minute: "minutes", 24 * time.Hour: "days",
}

func flag(p func(*Config) *bool) func(*Config, field) error {
	return func(c *Config, f field) (err error) {
		*p(c), err = f.boolean()
		return err
	}
}

func endpoint(p func(*Config) *string) func(*Config, field) error {
	return func(c *Config, f field) error {
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
	}
}

func region(c *Config, f field) (err error) {
	c.AWS.Region, err = regionName(f)
	return err
}

func dynamoRegion(c *Config, f field) (err error) {
	c.Storage.DynamoDB.Region, err = regionName(f)
	return err
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

func providerType(_ *Config, f field) error {
	_, err := f.oneOf("aws")
	return err
}

func storageType(c *Config, f field) (err error) {
	c.Storage.Type, err = f.oneOf("sqlite", "dynamodb")
	return err
}

// tablePrefix keeps to the characters DynamoDB allows in table names.
func tablePrefix(c *Config, f field) error {
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
}

// logLevel maps IBM's and the seeds' level names to slog's.
func logLevel(c *Config, f field) error {
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
}

// logSize reads a size in MiB (a plain number, as OHFP_LOG_MAX_SIZE_MB) or
// with a unit as the seeds write it ("100MB", "512KB", "1GB"; 1024-based).
func logSize(c *Config, f field) error {
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
func timeout(c *Config, f field) error {
	x, err := f.number()
	if err != nil || x < 0 || x > 1e6 {
		return errors.New("must be a number of seconds, 0 for none")
	}
	c.Timeout = time.Duration(x * float64(time.Second))
	return nil
}
