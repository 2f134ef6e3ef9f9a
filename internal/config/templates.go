package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ohfp/ohfp/internal/fault"
)

// Provider APIs and fleet types a template may choose.
const (
	APIRunInstances = "RunInstances"
	APIEC2Fleet     = "EC2Fleet"
	APISpotFleet    = "SpotFleet"
	APIASG          = "ASG"

	FleetInstant  = "instant"
	FleetRequest  = "request"
	FleetMaintain = "maintain"
)

// templateField is one field of a template, how its value is read, and
// what the reference says of it.
type templateField struct {
	key  string
	read reader[Template]
	doc  doc
}

var templateFields = []templateField{
	{"templateId", reader[Template]{typ: "string", allowed: "1-64 of A-Z, a-z, 0-9, `_`, `-`", set: templateID}, doc{ibm: true, example: `"OnDemand-Minimal-Template-VM"`, def: "required",
		about: "The template's id, unique in the file; HostFactory asks for machines by it."}},
	{"maxNumber", bounded(func(t *Template) *int { return &t.MaxNumber }, -1, 0), doc{ibm: true, example: "10", def: "required",
		about: "Most machines of this template alive at once; `-1` for no limit. Checked atomically in the store."}},
	{"attributes", reader[Template]{typ: "object", allowed: "name: [kind, value], kind String, Numeric or Boolean"}, doc{ibm: true, example: `{"type": ["String", "X86_64"], "ncpus": ["Numeric", "2"]}`, def: "derived from the instance type",
		about: "What HostFactory matches demand against. `type`, `ncpus`, `ncores` and `nram` are derived from the instance type when left out."}},
	{"priority", reader[Template]{typ: "integer", set: func(t *Template, f field) (err error) { t.Priority, err = f.integer(); return err }}, doc{ibm: true, example: "10", def: "0",
		about: "Higher is offered first."}},
	{"providerApi", choice(func(t *Template) *string { return &t.ProviderAPI }, APIRunInstances, APIEC2Fleet, APISpotFleet, APIASG), doc{example: `"EC2Fleet"`, def: "`EC2Fleet` for `vmTypes` or spot, else `RunInstances`",
		about: "AWS API that launches the machines ([apis.md](apis.md))."}},
	{"fleetType", choice(func(t *Template) *string { return &t.FleetType }, FleetInstant, FleetRequest, FleetMaintain), doc{example: `"instant"`, def: "`instant` (EC2Fleet), `request` (SpotFleet)",
		about: "Kind of fleet, for `providerApi` `EC2Fleet` and `SpotFleet` only."}},
	{"priceType", choice(func(t *Template) *string { return &t.PriceType }, PriceOnDemand, PriceSpot, PriceHeterogeneous), doc{ibm: true, example: `"spot"`, def: "`ondemand`",
		about: "On-demand, spot, or both (`heterogeneous`, with `percentOnDemand`)."}},
	{"imageId", reader[Template]{typ: "string", allowed: "`ami-...`, an SSM parameter path `/...`, `resolve:ssm:/...`", set: imageID}, doc{ibm: true, example: `"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"`, def: "required unless `launchTemplateId`",
		about: "Image to boot: an AMI id, or an SSM parameter resolved at each launch."}},
	{"vmType", reader[Template]{typ: "string", allowed: "an EC2 instance type, or several separated by commas", set: vmType}, doc{ibm: true, example: `"m5.large"`, def: "required unless `vmTypes` or `launchTemplateId`",
		about: "One instance type, or, as LSF's templates write them, several separated by commas: each is then a `vmTypes` entry of weight 1, tried in the order written ([lsf.md](lsf.md))."}},
	{"vmTypes", weights(func(t *Template) *map[string]int { return &t.VMTypes }, 1), doc{ibm: true, example: `{"m5.large": 1, "m5.xlarge": 2}`,
		about: "Instance types and their weights (capacity units each). Fleets choose among them; `RunInstances` tries them in order of `vmTypesPriority` until one has capacity."}},
	{"vmTypesOnDemand", weights(func(t *Template) *map[string]int { return &t.VMTypesOnDemand }, 1), doc{ibm: true, example: `{"m5.large": 1, "m5a.large": 1}`,
		about: "Instance types (and weights) for the on-demand part of a `heterogeneous` template. Read and validated, not applied yet: fleets take both parts from `vmTypes`."}},
	{"vmTypesPriority", weights(func(t *Template) *map[string]int { return &t.VMTypesPriority }, 0), doc{ibm: true, example: `{"m5.large": 1, "m5.xlarge": 2}`,
		about: "Priority of each type for the `prioritized` and `capacityOptimizedPrioritized` strategies; lower is preferred."}},
	{"subnetId", ids(func(t *Template) *[]string { return &t.SubnetIDs }, "subnet-"), doc{ibm: true, example: `"subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002"`, def: "the default VPC's",
		about: "Subnets to launch in: one id, a list, or comma-separated ids; the next is tried when one has no capacity. Also `subnetIds`."}},
	{"securityGroupIds", ids(func(t *Template) *[]string { return &t.SecurityGroupIDs }, "sg-"), doc{ibm: true, example: `["sg-0a1b2c3d4e5f60001"]`, def: "the VPC's default group",
		about: "Security groups of the instances."}},
	{"keyName", plain(func(t *Template) *string { return &t.KeyName }), doc{ibm: true, example: `"hf-compute"`,
		about: "EC2 key pair for SSH."}},
	{"instanceProfile", plain(func(t *Template) *string { return &t.InstanceProfile }), doc{ibm: true, example: `"hf-compute-profile"`,
		about: "IAM instance profile, by name or ARN."}},
	{"userData", plain(func(t *Template) *string { return &t.UserData }), doc{ibm: true, example: `"EGO_MASTER_LIST=master1;CLUSTER_NAME=prod"`,
		about: "`k=v;k2=v2` pairs, exported to the host's user data as `export k='v'` ([user-data.md](user-data.md))."}},
	{"userDataScript", plain(func(t *Template) *string { return &t.UserDataScript }), doc{ibm: true, example: `"user_data.sh"`,
		about: "Script run on each new host; `%EXPORT_USER_DATA%` in it becomes the exports of `userData`. Relative to the conf folder ([user-data.md](user-data.md))."}},
	{"instanceTags", reader[Template]{typ: "string or object", allowed: "`k=v;k2=v2` or {k: v}; no `aws:` keys", set: func(t *Template, f field) (err error) { t.InstanceTags, err = tags(f); return err }}, doc{ibm: true, example: `"Project=symphony;CostCenter=hpc-42"`,
		about: "Tags on every instance and volume, whatever API launched them."}},
	{"rootDeviceVolumeSize", bounded(func(t *Template) *int { return &t.RootDeviceVolumeSize }, 1, 65536), doc{ibm: true, example: "100", def: "the image's",
		about: "Root volume size."}},
	{"volumeType", choice(func(t *Template) *string { return &t.VolumeType }, "gp2", "gp3", "io1", "io2", "standard", "st1", "sc1"), doc{ibm: true, example: `"gp3"`, def: "the image's",
		about: "Root volume type."}},
	{"iops", bounded(func(t *Template) *int { return &t.IOPS }, 1, 256000), doc{ibm: true, example: "3000",
		about: "Root volume IOPS, for `io1`, `io2` and `gp3`."}},
	{"ebsOptimized", reader[Template]{typ: "boolean", allowed: "true, false", set: func(t *Template, f field) (err error) { t.EBSOptimized, err = f.boolean(); return err }}, doc{ibm: true, example: "true", def: "false",
		about: "Ask for EBS-optimized instances."}},
	{"placementGroupName", plain(func(t *Template) *string { return &t.PlacementGroupName }), doc{ibm: true, example: `"hf-cluster-pg"`,
		about: "Placement group to launch into."}},
	{"tenancy", choice(func(t *Template) *string { return &t.Tenancy }, "default", "dedicated", "host"), doc{ibm: true, example: `"dedicated"`, def: "`default`",
		about: "Instance tenancy. `host` is refused under LSF, as IBM's LSF plugin refuses it."}},
	{"launchTemplateId", reader[Template]{typ: "string", allowed: "`lt-...`", set: func(t *Template, f field) error {
		s, err := f.text()
		if err != nil || !strings.HasPrefix(s, "lt-") {
			return errors.New("must be a launch template id (lt-...)")
		}
		t.LaunchTemplateID = s
		return nil
	}}, doc{ibm: true, example: `"lt-0a1b2c3d4e5f60001"`,
		about: "An existing launch template to start from; the template's own fields override it."}},
	{"launchTemplateVersion", reader[Template]{typ: "string", allowed: "`$Latest`, `$Default` or a version number", set: launchTemplateVersion}, doc{ibm: true, example: `"3"`, def: "the launch template's default version",
		about: "Version of `launchTemplateId`."}},
	{"maxSpotPrice", reader[Template]{typ: "number", unit: "USD per hour", allowed: "more than 0", set: func(t *Template, f field) error {
		if x, err := f.number(); err != nil || x <= 0 {
			return errors.New("must be a positive price in USD per hour")
		}
		t.MaxSpotPrice, _ = f.text()
		return nil
	}}, doc{ibm: true, example: `"0.05"`, def: "the on-demand price",
		about: "Highest price paid for a spot instance."}},
	{"spotPrice", reader[Template]{typ: "number", unit: "USD per hour", allowed: "0 or more", set: func(t *Template, f field) error {
		x, err := f.number()
		if err != nil || x < 0 {
			return errors.New("must be a price in USD per hour, 0 for on-demand")
		}
		if x > 0 {
			t.MaxSpotPrice, _ = f.text()
		}
		return nil
	}}, doc{ibm: true, example: "0.05", def: "0",
		about: "LSF's spot price: more than 0 is `maxSpotPrice`, and under LSF it also means spot when `priceType` is not given, as IBM's LSF plugin reads it; 0 means on-demand ([lsf.md](lsf.md))."}},
	{"requestValidity", reader[Template]{typ: "string", allowed: "`hh:mm`", set: func(t *Template, f field) error {
		s, _ := f.text()
		h, m, ok := strings.Cut(s, ":")
		hours, err1 := strconv.Atoi(h)
		mins, err2 := strconv.Atoi(m)
		if !ok || err1 != nil || err2 != nil || hours < 0 || mins < 0 || hours*60+mins < 1 {
			return errors.New(`must be hours:minutes such as "0:30"`)
		}
		t.SpotFleetRequestExpiry = hours*60 + mins
		return nil
	}}, doc{ibm: true, example: `"1:30"`, def: "30 minutes",
		about: "LSF's spelling of `spotFleetRequestExpiry`: how long a Spot Fleet request stays valid."}},
	{"allocationStrategy", choice(func(t *Template) *string { return &t.AllocationStrategy }, "capacityOptimized", "capacityOptimizedPrioritized", "priceCapacityOptimized", "diversified", "lowestPrice"), doc{ibm: true, example: `"priceCapacityOptimized"`, def: "AWS's",
		about: "How a fleet picks spot pools."}},
	{"allocationStrategyOnDemand", choice(func(t *Template) *string { return &t.AllocationStrategyOnDemand }, "lowestPrice", "prioritized"), doc{ibm: true, example: `"prioritized"`, def: "`prioritized` with `vmTypesPriority`, else AWS's (`lowestPrice`)",
		about: "How a fleet picks on-demand types."}},
	{"percentOnDemand", bounded(func(t *Template) *int { return &t.PercentOnDemand }, 0, 100), doc{ibm: true, example: "30", def: "0",
		about: "Share of a `heterogeneous` request launched on demand."}},
	{"fleetRole", plain(func(t *Template) *string { return &t.FleetRole }), doc{ibm: true, example: `"arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role"`, def: "required for `SpotFleet`",
		about: "IAM role Spot Fleet acts as."}},
	{"spotFleetRequestExpiry", bounded(func(t *Template) *int { return &t.SpotFleetRequestExpiry }, 1, 525600), doc{ibm: true, example: "30",
		about: "Minutes a Spot Fleet request stays valid."}},
	{"interfaceType", choice(func(t *Template) *string { return &t.InterfaceType }, "efa", "interface"), doc{ibm: true, example: `"efa"`,
		about: "LSF's network interface type: `efa` gives the instances Elastic Fabric Adapters, `interface` a plain one. With `providerApi` `RunInstances`, the default when it is set ([lsf.md](lsf.md))."}},
	{"efaCount", bounded(func(t *Template) *int { return &t.EFACount }, 1, 64), doc{ibm: true, example: "4", def: "1",
		about: "With `interfaceType` `efa`: how many EFAs, one per network card (`NetworkCardIndex` 0, 1, ...)."}},
	{"poolsCount", bounded(func(t *Template) *int { return &t.PoolsCount }, 1, 100), doc{ibm: true, example: "3",
		about: "Spot pools to spread a request over. Fleets take it with the `lowestPrice` strategy only; Auto Scaling with `lowestPrice` or `diversified`."}},
}

// sameSetting pairs LSF's spellings with the fields that set the same
// value, so that a template giving both is refused as giving it twice.
var sameSetting = map[string]string{"spotPrice": "maxSpotPrice", "requestValidity": "spotFleetRequestExpiry"}

// templateFieldIndex finds a field by its name, IBM's camelCase or the OHFP
// integration guide's snake_case, or by an alias.
var templateFieldIndex = func() map[string]int {
	if len(templateFields) > 64 {
		panic("config: templateMember tracks fields in a uint64")
	}
	idx := map[string]int{}
	for i, tf := range templateFields {
		names := []string{tf.key}
		switch tf.key {
		case "subnetId":
			names = append(names, "subnetIds")
		}
		for _, n := range names {
			idx[n], idx[snake(n)] = i, i
		}
	}
	return idx
}()

// readTemplates reads a list of templates. A template that breaks a rule
// fails alone: it is recorded in Rejected and left out, and the others
// are served. Only a file with no valid template fails as a whole.
func (c *Config) readTemplates(s source, f field) error {
	if absent(f) {
		return nil
	}
	s.lsf = c.LSF()
	es, ok := elements(f.raw)
	if !ok {
		return s.invalid(f, errors.New("must be a list of templates"))
	}
	c.Templates = make([]Template, 0, len(es))
	first := make(map[string]int, len(es))
	scripts := map[string]string{}
	var ms []field
	for i, e := range es {
		name := "templates[" + strconv.Itoa(i) + "]"
		var t Template
		var err *fault.Error
		if ms, ok = appendMembers(ms[:0], e, name); !ok {
			err = s.invalid(field{path: name, raw: e}, errObject)
		}
		if err == nil {
			err = s.template(&t, name, ms)
		}
		if err == nil {
			err = c.userData(s, &t, name, scripts)
		}
		if j, dup := first[t.ID]; err == nil && dup {
			err = s.errorf(name+".templateId", "%q is already the id of templates[%d]", t.ID, j)
		}
		if err != nil {
			c.Rejected = append(c.Rejected, Rejection{ID: t.ID, Err: err.With("template", t.ID)})
			continue
		}
		first[t.ID] = i
		c.Templates = append(c.Templates, t)
	}
	if len(c.Templates) > 0 || len(c.Rejected) == 0 {
		return nil
	}
	msgs := make([]string, len(c.Rejected))
	for i, r := range c.Rejected {
		msgs[i] = r.Err.Message
	}
	all := *c.Rejected[0].Err
	all.Message = strings.Join(msgs, "; ")
	return &all
}

// userData anchors the template's userDataScript in the conf folder and
// checks, as EC2 would at launch, that the user data it makes is readable
// and within EC2's limit. The script must be inside the conf folder, so
// that a template cannot send another file to its hosts. scripts keeps
// the files already read.
func (c *Config) userData(s source, t *Template, name string, scripts map[string]string) *fault.Error {
	script := ""
	field := name + ".userDataScript"
	if t.UserDataScript == "" {
		// Under LSF, the plugin's own user_data.sh, as IBM's LSF plugin.
		t.UserDataScript = c.lsfUserData()
	} else {
		t.UserDataScript = under(c.ConfDir, t.UserDataScript, "")
		if rel, err := filepath.Rel(c.ConfDir, t.UserDataScript); err != nil || !filepath.IsLocal(rel) {
			return s.errorf(field, "%s is outside the conf folder %s", t.UserDataScript, c.ConfDir)
		}
	}
	if t.UserDataScript != "" {
		var ok bool
		if script, ok = scripts[t.UserDataScript]; !ok {
			raw, err := os.ReadFile(t.UserDataScript)
			if err != nil {
				return s.errorf(field, "cannot read it: %v", err)
			}
			script = string(raw)
			scripts[t.UserDataScript] = script
		}
	}
	text, err := userDataOf(t.UserData, script)
	switch {
	case err != nil:
		return s.errorf(name+".userData", "%v", err)
	case len(text) > MaxUserData:
		return s.errorf(name+".userDataScript", "makes %d bytes of user data; EC2 takes at most %d (16 KB)", len(text), MaxUserData)
	}
	return nil
}

// template reads the members of one template, then checks what needs
// several fields and fills in defaults.
func (s source) template(t *Template, name string, ms []field) *fault.Error {
	var seen uint64
	for _, m := range ms {
		if err := s.templateMember(t, &seen, m); err != nil {
			return err
		}
	}
	if s.lsf {
		if t.Tenancy == "host" {
			// IBM's Python plugin refuses it: "not currently supported by LSF".
			return s.errorf(name+".tenancy", "host tenancy is not supported under LSF (IBM's LSF plugin refuses it too); use default or dedicated")
		}
		t.lsfDefaults()
	}
	if at, err := t.complete(); err != nil {
		return s.errorf(name+"."+at, "%v", err)
	}
	return nil
}

// lsfDefaults reads a template as IBM's LSF plugin does where it does not
// say otherwise: a spot price means spot; network interfaces go to
// RunInstances, and spot with a fleetRole to Spot Fleet (docs/lsf.md).
func (t *Template) lsfDefaults() {
	if t.PriceType == "" && t.MaxSpotPrice != "" {
		t.PriceType = PriceSpot
	}
	switch {
	case t.ProviderAPI != "":
	case t.InterfaceType != "":
		// IBM's plugin sets network interfaces on RunInstances; spot
		// comes from its market options.
		t.ProviderAPI = APIRunInstances
	case t.PriceType == PriceSpot && t.FleetRole != "":
		t.ProviderAPI = APISpotFleet
	}
}

// templateMember reads one field; seen has a bit per field already given,
// so that one given twice (as templateId and template_id) is refused.
func (s source) templateMember(t *Template, seen *uint64, m field) *fault.Error {
	if absent(m) {
		return nil
	}
	i, known := keyIn(templateFieldIndex, m)
	if !known {
		return s.unread(m, s.lsf)
	}
	bit := i
	if other, ok := sameSetting[templateFields[i].key]; ok {
		bit = templateFieldIndex[other]
	}
	if *seen&(1<<bit) != 0 {
		return s.errorf(m.name(), "is given twice")
	}
	*seen |= 1 << bit
	if templateFields[i].key == "attributes" {
		return s.attributes(t, seen, m)
	}
	if err := templateFields[i].read.set(t, m); err != nil {
		return s.invalid(m, err)
	}
	return nil
}

// attributes reads HostFactory's [kind, value] pairs. In the OHFP integration
// guide's layout a value that is not such a pair is a template field (vm_type,
// image_id).
func (s source) attributes(t *Template, seen *uint64, f field) *fault.Error {
	ms, ok := members(f.raw, f.name())
	if !ok {
		return s.invalid(f, errObject)
	}
	for _, m := range ms {
		if s.seeds && !isPair(m) {
			if err := s.templateMember(t, seen, m); err != nil {
				return err
			}
			continue
		}
		a, err := attribute(m)
		if err != nil {
			return s.invalid(m, err)
		}
		if t.Attributes == nil {
			t.Attributes = make(map[string]Attribute, len(ms))
		}
		t.Attributes[m.key()] = a
	}
	return nil
}

var attributeKinds = []string{"String", "Numeric", "Boolean"}

// isPair tells a [kind, value] pair from a list that merely has two items.
func isPair(f field) bool {
	n, kind := 0, false
	items(f.raw, '[', func(_, value []byte) {
		if n++; n == 1 {
			_, kind = field{raw: value}.match(attributeKinds...)
		}
	})
	return n == 2 && kind
}

// attribute reads one pair; a Boolean's value is written "1" or "0", as
// HostFactory compares it.
func attribute(f field) (Attribute, error) {
	es, ok := elements(f.raw)
	if !ok || len(es) != 2 {
		return Attribute{}, errors.New("must be a pair [kind, value]")
	}
	kind, err := field{raw: es[0]}.oneOf(attributeKinds...)
	if err != nil {
		return Attribute{}, errors.New("kind must be String, Numeric or Boolean")
	}
	vf := field{raw: es[1]}
	value, err := vf.text()
	switch {
	case kind == "Numeric":
		if _, err := vf.number(); err != nil {
			return Attribute{}, errors.New("a Numeric value must be a number")
		}
	case kind == "Boolean":
		b, err := vf.boolean()
		if err != nil {
			return Attribute{}, errors.New("a Boolean value must be 0, 1, true or false")
		}
		value = map[bool]string{true: "1", false: "0"}[b]
	case err != nil:
		return Attribute{}, errors.New("a String value must be a string")
	}
	return Attribute{Kind: kind, Value: value}, nil
}

// complete checks the rules that involve several fields and fills in the
// defaults; it names the field at fault.
func (t *Template) complete() (string, error) {
	switch {
	case t.ID == "":
		return "templateId", errors.New("is required")
	case t.MaxNumber == 0:
		return "maxNumber", errors.New("is required (-1 for unlimited)")
	case t.ImageID == "" && t.LaunchTemplateID == "":
		return "imageId", errors.New("is required unless launchTemplateId is given")
	case t.VMType == "" && len(t.VMTypes) == 0 && t.LaunchTemplateID == "":
		return "vmType", errors.New("vmType or vmTypes is required unless launchTemplateId is given")
	}
	if t.PriceType == "" {
		t.PriceType = PriceOnDemand
	}
	if t.ProviderAPI == "" {
		// IBM's plugin sends spot and mixed capacity to a fleet; so does
		// ohfp when the template does not choose.
		t.ProviderAPI = APIRunInstances
		if len(t.VMTypes) > 0 || t.PriceType != PriceOnDemand {
			t.ProviderAPI = APIEC2Fleet
		}
	}
	switch t.ProviderAPI {
	case APIEC2Fleet:
		if t.FleetType == "" {
			t.FleetType = FleetInstant
		}
	case APISpotFleet:
		if t.FleetType == "" {
			t.FleetType = FleetRequest
		}
		if t.FleetType == FleetInstant {
			return "fleetType", errors.New("instant is not available with providerApi SpotFleet")
		}
		if t.FleetRole == "" {
			return "fleetRole", errors.New("is required with providerApi SpotFleet")
		}
	default:
		if t.FleetType != "" {
			return "fleetType", fmt.Errorf("applies only to providerApi EC2Fleet and SpotFleet, not %s", t.ProviderAPI)
		}
		if t.ProviderAPI == APIRunInstances && t.PriceType == PriceHeterogeneous {
			return "priceType", errors.New("heterogeneous needs providerApi EC2Fleet, SpotFleet or ASG")
		}
	}
	switch {
	case t.EFACount > 0 && t.InterfaceType != "efa":
		return "efaCount", errors.New(`applies only with interfaceType "efa"`)
	case t.InterfaceType != "" && t.ProviderAPI != APIRunInstances:
		return "interfaceType", fmt.Errorf("is applied by providerApi RunInstances only, not %s: fleets and groups take their network interfaces from a launch template (launchTemplateId)", t.ProviderAPI)
	}
	if t.IOPS > 0 && t.VolumeType != "" && t.VolumeType != "io1" && t.VolumeType != "io2" && t.VolumeType != "gp3" {
		return "iops", fmt.Errorf("applies only to volumeType io1, io2 or gp3, not %s", t.VolumeType)
	}
	return t.awsRule()
}

// templateID accepts 1-64 of [A-Za-z0-9_-], the ids HostFactory handles.
func templateID(t *Template, f field) error {
	s, err := f.text()
	ok := err == nil && len(s) >= 1 && len(s) <= 64
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	if !ok {
		return errors.New("must be 1-64 characters of A-Z, a-z, 0-9, _ and -")
	}
	t.ID = s
	return nil
}

func imageID(t *Template, f field) error {
	s, err := f.text()
	if err != nil || !(isResourceID(s, "ami") || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "resolve:ssm:/")) {
		return errors.New("must be an AMI id (ami- and 8 or 17 lowercase letters and digits), an SSM parameter path (/...) or resolve:ssm:/...")
	}
	t.ImageID = s
	return nil
}

var errInstanceType = errors.New("must be an EC2 instance type, such as t3.micro (this release knows the AWS SDK's list)")

// vmType reads one instance type, or a comma-separated list of them, as
// LSF's templates give several: each becomes a vmTypes entry of weight 1,
// its vmTypesPriority its place in the list, so that RunInstances tries
// them in the order written and prioritized fleets prefer the first.
func vmType(t *Template, f field) error {
	s, err := f.text()
	if err != nil {
		return errInstanceType
	}
	if !strings.Contains(s, ",") {
		if !isInstanceType(s) {
			return errInstanceType
		}
		t.VMType = s
		return nil
	}
	t.VMTypes, t.VMTypesPriority = map[string]int{}, map[string]int{}
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			continue
		case !isInstanceType(name):
			return fmt.Errorf("%q: %w", name, errInstanceType)
		}
		if _, dup := t.VMTypes[name]; dup {
			return fmt.Errorf("%q is listed twice", name)
		}
		t.VMTypesPriority[name] = len(t.VMTypes)
		t.VMTypes[name] = 1
	}
	if len(t.VMTypes) == 0 {
		return errInstanceType
	}
	return nil
}

// weights reads {instanceType: n}, each n at least least.
func weights(p func(*Template) *map[string]int, least int) reader[Template] {
	why := "must map instance types to integers of at least " + strconv.Itoa(least)
	return reader[Template]{typ: "object", allowed: "{instance type: integer of at least " + strconv.Itoa(least) + "}", set: func(t *Template, f field) error {
		ms, ok := members(f.raw, "")
		if !ok || len(ms) == 0 {
			return errors.New("must be an object mapping instance types to integers")
		}
		out := make(map[string]int, len(ms))
		for _, m := range ms {
			name := m.key()
			if !isInstanceType(name) {
				return fmt.Errorf("%q: %w", name, errInstanceType)
			}
			n, err := m.intWhere(func(n int) bool { return n >= least }, why)
			if err != nil {
				return err
			}
			out[name] = n
		}
		*p(t) = out
		return nil
	}}
}

// ids reads ids given as a list or a comma-separated string.
func ids(p func(*Template) *[]string, prefix string) reader[Template] {
	return reader[Template]{typ: "string or list", allowed: "`" + prefix + "...` ids", set: func(t *Template, f field) error {
		list, err := f.list()
		if err != nil {
			return err
		}
		for _, id := range list {
			if !strings.HasPrefix(id, prefix) {
				return fmt.Errorf("%q is not an id of the form %s...", id, prefix)
			}
		}
		*p(t) = list
		return nil
	}}
}

func plain(p func(*Template) *string) reader[Template] {
	return reader[Template]{typ: "string", set: func(t *Template, f field) (err error) {
		*p(t), err = f.text()
		return err
	}}
}

func choice(p func(*Template) *string, values ...string) reader[Template] {
	return reader[Template]{typ: "string", allowed: strings.Join(values, ", "), set: func(t *Template, f field) (err error) {
		*p(t), err = f.oneOf(values...)
		return err
	}}
}

// bounded reads an integer from lo to hi; with hi 0, lo is the only
// value allowed below 1 (maxNumber's -1).
func bounded(p func(*Template) *int, lo, hi int) reader[Template] {
	why, allowed := "must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi), strconv.Itoa(lo)+" to "+strconv.Itoa(hi)
	ok := func(n int) bool { return n >= lo && n <= hi }
	if hi == 0 {
		why, allowed = "must be "+strconv.Itoa(lo)+" or a positive integer", strconv.Itoa(lo)+", or 1 and more"
		ok = func(n int) bool { return n == lo || n > 0 }
	}
	return reader[Template]{typ: "integer", allowed: allowed, set: func(t *Template, f field) (err error) {
		*p(t), err = f.intWhere(ok, why)
		return err
	}}
}

func launchTemplateVersion(t *Template, f field) error {
	s, err := f.text()
	if v, ok := f.match("$Latest", "$Default"); ok {
		s = v
	} else if n, e := strconv.Atoi(s); err != nil || e != nil || n < 1 {
		return errors.New("must be $Latest, $Default or a version number")
	}
	t.LaunchTemplateVersion = s
	return nil
}

// tags reads instanceTags, "k=v;k2=v2" or an object, keeping their order,
// and refuses what EC2 would refuse at launch time.
func tags(f field) ([]Tag, error) {
	var out []Tag
	if ms, ok := members(f.raw, ""); ok {
		for _, m := range ms {
			v, err := m.text()
			if err != nil {
				return nil, fmt.Errorf("tag %q: %w", m.key(), err)
			}
			out = append(out, Tag{Key: m.key(), Value: v})
		}
	} else {
		s, err := f.text()
		if err != nil {
			return nil, errors.New(`must be "key=value;key2=value2" or an object`)
		}
		for _, kv := range strings.Split(s, ";") {
			if strings.TrimSpace(kv) == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf(`%q is not key=value`, kv)
			}
			out = append(out, Tag{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
		}
	}
	for i, tg := range out {
		if err := CheckTag(tg); err != nil {
			return nil, err
		}
		for _, prev := range out[:i] {
			if prev.Key == tg.Key {
				return nil, fmt.Errorf("tag %q is given twice", tg.Key)
			}
		}
	}
	return out, nil
}

// snake spells IBM's camelCase names as the OHFP integration guide does
// (vmTypesOnDemand, vm_types_on_demand).
func snake(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
