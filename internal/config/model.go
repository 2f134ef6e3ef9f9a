// Package config reads a provider instance's configuration (IBM's
// awsprov_config.json and awsprov_templates.json, or the OHFP integration
// guide's YAML layout) and the HF_* environment into one typed, validated
// model.
//
// Where Load looks:
//
//   - Instance name: HF_PROVIDER_NAME, else HF_PROVIDER, else PROVIDER_NAME,
//     else "aws".
//   - Conf folder: HF_PROVIDER_CONFDIR, else $HF_CONFDIR/providers/<name>,
//     else LSF's $PRO_CONF_DIR/conf, else
//     $PRO_LSF_TOP/conf/resource_connector/<name>/conf, else the folder of
//     HF_CONFIG_PATH, else the current folder.
//     Work folder: HF_PROVIDER_WORKDIR, else $HF_WORKDIR/providers/<name>,
//     else $PRO_DATA_DIR/<name>, else the conf folder (but the SQLite store
//     is never opened in a work folder so guessed: see Storage.Guessed). Log folder:
//     HF_PROVIDER_LOGDIR, else $HF_LOGDIR, else $PRO_LSF_LOGDIR, else the
//     work folder.
//   - Scheduler: OHFP_SCHEDULER in the file, else lsf when any of LSF's
//     PRO_* variables is set, else symphony. Under LSF the cluster name
//     comes from SCRIPT_OPTIONS (-DclusterName=...), the log file is
//     <name>-ohfp.log.<host>, and a template without userDataScript uses
//     user_data.sh in the scripts' folder (OHFP_SCRIPT_DIR), as IBM's LSF
//     plugin does.
//   - Config file: HF_CONFIG_PATH (or CONFIG_PATH) if set; else the first of
//     <name>prov_config.json, awsprov_config.json, config.yml, config.yaml in
//     the conf folder. None found is an error naming the paths tried. A file
//     starting with '{' is JSON, anything else YAML; either way a top level
//     with a provider, storage, logging, monitoring, caching, hostfactory or
//     templates section is the OHFP integration guide's layout, otherwise
//     IBM's flat keys.
//   - Templates: <name>prov_templates.json, else awsprov_templates.json, in
//     the conf folder; it wins over a templates section of the config file,
//     since that file is the one IBM administrators edit. Neither is valid:
//     no templates.
//   - Environment over file: HF_LOG_LEVEL (or LOG_LEVEL) and HF_TIMEOUT
//     (seconds) override the file; AWS_REGION is used only when the file
//     names no region.
//   - Relative paths: the sqlite file is anchored in the work folder, the
//     log file in the log folder, credential, key and userDataScript files
//     in the conf folder.
//   - Cache: a YAML config is kept rewritten as JSON in the work folder
//     (.ohfp-config-cache, keyed by the hash of the YAML text), since the
//     YAML parser would cost each call ten times the rest of loading.
//
// Both formats are rewritten into one raw form (JSON text per field, names
// as written) and checked by the same code, so a rule and its message are
// the same whichever file a value came from. Names that are not used are
// recorded in Config.Ignored rather than refused.
package config

import (
	"time"

	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/policy"
)

// Config is everything one invocation of ohfp needs to know about its
// provider instance.
type Config struct {
	ProviderName string // HF_PROVIDER_NAME
	// InstallationID tells this installation's cloud resources from those
	// of others with the same ProviderName; Load leaves it empty, and
	// internal/installation reads or makes it beside the config.
	InstallationID string
	ConfDir        string // HF_PROVIDER_CONFDIR
	WorkDir        string // HF_PROVIDER_WORKDIR: state lives here
	LogDir         string // HF_PROVIDER_LOGDIR

	// Scheduler is who runs the scripts: Symphony's HostFactory or LSF's
	// resource connector, whose expectations differ (docs/lsf.md).
	Scheduler   Scheduler
	ClusterName string // LSF's -DclusterName in SCRIPT_OPTIONS
	ScriptDir   string // OHFP_SCRIPT_DIR: the folder of the five scripts

	ConfigFile    string // the file the settings came from
	TemplatesFile string // the file the templates came from (may equal ConfigFile)

	AWS       AWS
	Storage   Storage
	Logging   Logging
	Timeout   time.Duration // HF_TIMEOUT: budget of one operation; 0 = none
	Templates []Template
	// Rejected are the templates left out of Templates for breaking a
	// rule: each fails alone, and the others are served.
	Rejected []Rejection

	// Policies are the admission policies (docs/policies.md), read from
	// PoliciesFile.
	Policies     []policy.Policy
	PoliciesFile string
	// AccessFile holds the access rules of Unix users and groups
	// (internal/access); it need not exist.
	AccessFile string

	Monitoring Monitoring
	Reconcile  Reconcile
	Caching    Caching
	// LegacyMode and FieldMapping (the OHFP requirements guide's
	// hostfactory section) choose the human commands' default keys; see
	// CamelCase.
	LegacyMode   bool
	FieldMapping FieldMapping
	// Ignored lists what the files give but ohfp does not use, as
	// "file: field", so that doctor can report it.
	Ignored []string
}

// Scheduler names the caller of the five scripts.
type Scheduler string

// The schedulers.
const (
	SchedulerSymphony Scheduler = "symphony"
	SchedulerLSF      Scheduler = "lsf"
)

// LSF reports whether LSF's resource connector runs the scripts.
func (c *Config) LSF() bool { return c.Scheduler == SchedulerLSF }

// Reconcile bounds what one reconcile pass may terminate: the larger of
// BudgetPercent of this installation's live instances and BudgetMin.
type Reconcile struct {
	BudgetPercent int
	BudgetMin     int
}

// Monitoring configures the metrics endpoint (the OHFP integration guide's
// monitoring section).
type Monitoring struct {
	Enabled         bool
	MetricsEndpoint string
}

// Caching configures the caches ohfp keeps between processes (the OHFP
// integration guide's caching section).
type Caching struct {
	// Off (caching.enabled: false) keeps neither cloud facts nor the
	// parsed YAML config between calls: every call asks AWS and parses
	// again.
	Off bool
	// FactTTL bounds how long cached cloud facts (instance types, image
	// root devices, SSM image paths) are trusted; 0 keeps each fact's own
	// lifetime (types and root devices: for good; SSM paths: an hour).
	FactTTL time.Duration
	// ConfigTTL bounds how long the parsed YAML config is reused while
	// its text is unchanged; 0: as long as it is unchanged.
	ConfigTTL time.Duration
}

// FieldMapping names the keys the human commands print.
type FieldMapping string

// Field mappings.
const (
	SnakeCase FieldMapping = "snake_case" // the default
	CamelCase FieldMapping = "camelCase"  // HostFactory's spelling, as --legacy
)

// CamelCase reports whether the human commands print HostFactory's
// camelCase keys by default, as --legacy does: hostfactory.legacy_mode or
// field_mapping camelCase.
func (c *Config) CamelCase() bool { return c.LegacyMode || c.FieldMapping == CamelCase }

// AWS holds the settings of IBM's awsprov_config.json (and the OHFP
// integration guide's provider.aws section).
type AWS struct {
	Region                 string
	Profile                string
	CredentialFile         string
	EndpointURL            string
	ProxyHost              string
	ProxyPort              int
	ConnectionTimeout      time.Duration // AWS_CONNECTION_TIMEOUT_MS, default 10s
	RetryAttempts          int           // AWS_REQUEST_RETRY_ATTEMPTS, 0-10, default 3
	DescribeRetryAttempts  int           // AWS_DESCRIBE_REQUEST_RETRY_ATTEMPTS
	DescribeInterval       time.Duration // AWS_DESCRIBE_REQUEST_INTERVAL
	PendingTimeout         time.Duration // AWS_INSTANCE_PENDING_TIMEOUT_SEC, default 180s
	SpotTerminateOnReclaim bool          // AWS_SPOT_TERMINATE_ON_RECLAIM
	CreationTimeout        time.Duration // INSTANCE_CREATION_TIMEOUT (minutes), default 10m
	KeyFile                string        // AWS_KEY_FILE
	// CredentialScript prints temporary credentials (AWS_CREDENTIAL_SCRIPT);
	// they are kept in CredentialCache, in the work folder, and renewed
	// once older than CredentialRenewMargin.
	CredentialScript      string
	CredentialRenewMargin time.Duration
	CredentialCache       string
}

// StorageType names a kind of state store.
type StorageType string

// Storage types.
const (
	StorageSQLite   StorageType = "sqlite" // the default
	StorageDynamoDB StorageType = "dynamodb"
)

// Storage selects and configures the state store.
type Storage struct {
	Type StorageType
	Path string // sqlite file; default <WorkDir>/ohfp.db
	// Guessed says that Path was only guessed: neither the config gives an
	// absolute one nor the environment a work folder. ohfp then refuses to
	// open a store there rather than make an empty one in the conf folder.
	Guessed bool
	// Defaulted says that no config gave Path: several provider instances
	// sharing a work folder then each get their own file (app.SQLitePath).
	Defaulted bool
	Retention time.Duration
	DynamoDB  DynamoDB
}

// DynamoDB configures the shared store.
type DynamoDB struct {
	TablePrefix string
	Region      string
	EndpointURL string
	// AutoCreate creates missing tables on first use (where the
	// credentials may); off, a missing table is a CONFIGURATION_ERROR
	// naming `ohfp store init`.
	AutoCreate bool
	// BackupEnabled turns on point-in-time recovery of the tables in
	// `ohfp store init`; doctor checks it.
	BackupEnabled bool
}

// Logging configures the log file.
type Logging struct {
	Level       string // debug, info, warn, error
	FilePath    string // default <LogDir>/ohfp.log
	MaxSize     int64  // bytes before rotation
	BackupCount int
	Console     bool // also log to stderr
}

// Attribute is one HostFactory attribute: a kind (String, Numeric, Boolean)
// and a value that is always a string.
type Attribute struct {
	Kind  string
	Value string
}

// Template is one machine template, with every field IBM's AWS plugin reads
// and the project's own extensions. It is stored with each request, so its
// JSON form must stay readable by later releases.
type Template struct {
	ID         string               `json:"templateId"`
	MaxNumber  int                  `json:"maxNumber"`
	Attributes map[string]Attribute `json:"attributes,omitempty"`
	Priority   int                  `json:"priority,omitempty"`

	ProviderAPI string `json:"providerApi,omitempty"` // RunInstances, EC2Fleet, SpotFleet, ASG
	FleetType   string `json:"fleetType,omitempty"`   // instant, request, maintain

	PriceType                  string         `json:"priceType,omitempty"` // ondemand, spot, heterogeneous
	ImageID                    string         `json:"imageId,omitempty"`   // AMI id or SSM parameter path
	VMType                     string         `json:"vmType,omitempty"`
	VMTypes                    map[string]int `json:"vmTypes,omitempty"` // type -> weight
	VMTypesOnDemand            map[string]int `json:"vmTypesOnDemand,omitempty"`
	VMTypesPriority            map[string]int `json:"vmTypesPriority,omitempty"`
	SubnetIDs                  []string       `json:"subnetIds,omitempty"`
	SecurityGroupIDs           []string       `json:"securityGroupIds,omitempty"`
	KeyName                    string         `json:"keyName,omitempty"`
	InstanceProfile            string         `json:"instanceProfile,omitempty"` // name or ARN
	UserData                   string         `json:"userData,omitempty"`        // k=v;k2=v2
	UserDataScript             string         `json:"userDataScript,omitempty"`  // path of a script
	InstanceTags               []Tag          `json:"instanceTags,omitempty"`
	RootDeviceVolumeSize       int            `json:"rootDeviceVolumeSize,omitempty"` // GiB
	VolumeType                 string         `json:"volumeType,omitempty"`
	IOPS                       int            `json:"iops,omitempty"`
	EBSOptimized               bool           `json:"ebsOptimized,omitempty"`
	PlacementGroupName         string         `json:"placementGroupName,omitempty"`
	Tenancy                    string         `json:"tenancy,omitempty"`
	LaunchTemplateID           string         `json:"launchTemplateId,omitempty"`
	LaunchTemplateVersion      string         `json:"launchTemplateVersion,omitempty"`
	MaxSpotPrice               string         `json:"maxSpotPrice,omitempty"`
	AllocationStrategy         string         `json:"allocationStrategy,omitempty"`
	AllocationStrategyOnDemand string         `json:"allocationStrategyOnDemand,omitempty"`
	PercentOnDemand            int            `json:"percentOnDemand,omitempty"`
	FleetRole                  string         `json:"fleetRole,omitempty"`
	SpotFleetRequestExpiry     int            `json:"spotFleetRequestExpiry,omitempty"` // minutes
	PoolsCount                 int            `json:"poolsCount,omitempty"`
	InterfaceType              string         `json:"interfaceType,omitempty"` // efa or interface (LSF's templates)
	EFACount                   int            `json:"efaCount,omitempty"`      // network cards with an EFA
}

// Rejection is a template left out, and why: a CONFIGURATION_ERROR naming
// the file, the field and the rule.
type Rejection struct {
	ID  string // "" when the template has no valid id
	Err *fault.Error
}

// Tag is one key=value pair of instanceTags, kept in the order given.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Price types.
const (
	PriceOnDemand      = "ondemand"
	PriceSpot          = "spot"
	PriceHeterogeneous = "heterogeneous"
)

// Template finds a template by id.
func (c *Config) Template(id string) (Template, bool) {
	for _, t := range c.Templates {
		if t.ID == id {
			return t, true
		}
	}
	return Template{}, false
}

// Rejection reports why the template id was left out, if it was.
func (c *Config) Rejection(id string) (*fault.Error, bool) {
	for _, r := range c.Rejected {
		if r.ID == id && id != "" {
			return r.Err, true
		}
	}
	return nil, false
}

// TemplateIDs lists the ids of all templates, in file order.
func (c *Config) TemplateIDs() []string {
	ids := make([]string, len(c.Templates))
	for i, t := range c.Templates {
		ids[i] = t.ID
	}
	return ids
}

// OperationBudget is the longest one operation may run: HF_TIMEOUT when
// HostFactory sets it, else INSTANCE_CREATION_TIMEOUT. Past it, an
// invocation that has not answered is certainly gone.
func (c *Config) OperationBudget() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return c.AWS.CreationTimeout
}
