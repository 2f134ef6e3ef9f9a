package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// templateField is one field of a template and how its value is read.
type templateField struct {
	key string
	set func(t *Template, f field) error
}

var templateFields = []templateField{
	{"templateId", templateID},
	{"maxNumber", func(t *Template, f field) (err error) {
		t.MaxNumber, err = f.intWhere(func(n int) bool { return n == -1 || n > 0 }, "must be -1 or a positive integer")
		return err
	}},
	{"attributes", nil}, // read by templateSource.attributes
	{"priority", func(t *Template, f field) (err error) { t.Priority, err = f.integer(); return err }},
	{"providerApi", func(t *Template, f field) (err error) {
		t.ProviderAPI, err = f.oneOf(APIRunInstances, APIEC2Fleet, APISpotFleet, APIASG)
		return err
	}},
	{"fleetType", func(t *Template, f field) (err error) {
		t.FleetType, err = f.oneOf(FleetInstant, FleetRequest, FleetMaintain)
		return err
	}},
	{"priceType", func(t *Template, f field) (err error) {
		t.PriceType, err = f.oneOf(PriceOnDemand, PriceSpot, PriceHeterogeneous)
		return err
	}},
	{"imageId", imageID},
	{"vmType", func(t *Template, f field) error {
		s, err := f.text()
		if err != nil || !isInstanceType(s) {
			return errInstanceType
		}
		t.VMType = s
		return nil
	}},
	{"vmTypes", weights(func(t *Template) *map[string]int { return &t.VMTypes }, 1)},
	{"vmTypesOnDemand", weights(func(t *Template) *map[string]int { return &t.VMTypesOnDemand }, 1)},
	{"vmTypesPriority", weights(func(t *Template) *map[string]int { return &t.VMTypesPriority }, 0)},
	{"subnetId", ids(func(t *Template) *[]string { return &t.SubnetIDs }, "subnet-")},
	{"securityGroupIds", ids(func(t *Template) *[]string { return &t.SecurityGroupIDs }, "sg-")},
	{"keyName", plain(func(t *Template) *string { return &t.KeyName })},
	{"instanceProfile", plain(func(t *Template) *string { return &t.InstanceProfile })},
	{"userData", plain(func(t *Template) *string { return &t.UserData })},
	{"userDataScript", plain(func(t *Template) *string { return &t.UserDataScript })},
	{"instanceTags", func(t *Template, f field) (err error) { t.InstanceTags, err = tags(f); return err }},
	{"rootDeviceVolumeSize", bounded(func(t *Template) *int { return &t.RootDeviceVolumeSize }, 1, 65536)},
	{"volumeType", func(t *Template, f field) (err error) {
		t.VolumeType, err = f.oneOf("gp2", "gp3", "io1", "io2", "standard", "st1", "sc1")
		return err
	}},
	{"iops", bounded(func(t *Template) *int { return &t.IOPS }, 1, 256000)},
	{"ebsOptimized", func(t *Template, f field) (err error) { t.EBSOptimized, err = f.boolean(); return err }},
	{"placementGroupName", plain(func(t *Template) *string { return &t.PlacementGroupName })},
	{"tenancy", func(t *Template, f field) (err error) {
		t.Tenancy, err = f.oneOf("default", "dedicated", "host")
		return err
	}},
	{"launchTemplateId", func(t *Template, f field) error {
		s, err := f.text()
		if err != nil || !strings.HasPrefix(s, "lt-") {
			return errors.New("must be a launch template id (lt-...)")
		}
		t.LaunchTemplateID = s
		return nil
	}},
	{"launchTemplateVersion", launchTemplateVersion},
	{"maxSpotPrice", func(t *Template, f field) error {
		if x, err := f.number(); err != nil || x <= 0 {
			return errors.New("must be a positive price in USD per hour")
		}
		t.MaxSpotPrice, _ = f.text()
		return nil
	}},
	{"allocationStrategy", func(t *Template, f field) (err error) {
		t.AllocationStrategy, err = f.oneOf("capacityOptimized", "capacityOptimizedPrioritized", "priceCapacityOptimized", "diversified", "lowestPrice")
		return err
	}},
	{"allocationStrategyOnDemand", func(t *Template, f field) (err error) {
		t.AllocationStrategyOnDemand, err = f.oneOf("lowestPrice", "prioritized")
		return err
	}},
	{"percentOnDemand", bounded(func(t *Template) *int { return &t.PercentOnDemand }, 0, 100)},
	{"fleetRole", plain(func(t *Template) *string { return &t.FleetRole })},
	{"spotFleetRequestExpiry", bounded(func(t *Template) *int { return &t.SpotFleetRequestExpiry }, 1, 525600)},
	{"poolsCount", bounded(func(t *Template) *int { return &t.PoolsCount }, 1, 100)},
}

// templateFieldIndex finds a field by its name, IBM's camelCase or the
// seeds' snake_case, or by an alias.
var templateFieldIndex = func() map[string]int {
	if len(templateFields) > 64 {
		panic("config: templateMember tracks fields in a uint64")
	}
	idx := map[string]int{}
	for i, tf := range templateFields {
		names := []string{tf.key}
		switch tf.key {
		case "maxSpotPrice":
			names = append(names, "spotPrice")
		case "subnetId":
			names = append(names, "subnetIds")
		}
		for _, n := range names {
			idx[n], idx[snake(n)] = i, i
		}
	}
	return idx
}()

// readTemplates reads a list of templates and checks that ids are unique.
func (c *Config) readTemplates(s source, f field) error {
	if absent(f) {
		return nil
	}
	es, ok := elements(f.raw)
	if !ok {
		return s.invalid(f, errors.New("must be a list of templates"))
	}
	c.Templates = make([]Template, len(es))
	first := make(map[string]int, len(es))
	var ms []field
	for i, e := range es {
		name := "templates[" + strconv.Itoa(i) + "]"
		if ms, ok = appendMembers(ms[:0], e, name); !ok {
			return s.invalid(field{path: name, raw: e}, errObject)
		}
		if err := s.template(&c.Templates[i], name, ms); err != nil {
			return err
		}
		id := c.Templates[i].ID
		if j, dup := first[id]; dup {
			return s.errorf(name+".templateId", "%q is already the id of templates[%d]", id, j)
		}
		first[id] = i
	}
	return nil
}

// template reads the members of one template, then checks what needs
// several fields and fills in defaults.
func (s source) template(t *Template, name string, ms []field) error {
	var seen uint64
	for _, m := range ms {
		if err := s.templateMember(t, &seen, m); err != nil {
			return err
		}
	}
	if at, err := t.complete(); err != nil {
		return s.errorf(name+"."+at, "%v", err)
	}
	return nil
}

// templateMember reads one field; seen has a bit per field already given,
// so that one given twice (as templateId and template_id) is refused.
func (s source) templateMember(t *Template, seen *uint64, m field) error {
	if absent(m) {
		return nil
	}
	i, known := keyIn(templateFieldIndex, m)
	if !known {
		s.ignore(m.name())
		return nil
	}
	if *seen&(1<<i) != 0 {
		return s.errorf(m.name(), "is given twice")
	}
	*seen |= 1 << i
	if templateFields[i].key == "attributes" {
		return s.attributes(t, seen, m)
	}
	if err := templateFields[i].set(t, m); err != nil {
		return s.invalid(m, err)
	}
	return nil
}

// attributes reads HostFactory's [kind, value] pairs. In the seeds' layout
// a value that is not such a pair is a template field (vm_type, image_id).
func (s source) attributes(t *Template, seen *uint64, f field) error {
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
	if t.IOPS > 0 && t.VolumeType != "" && t.VolumeType != "io1" && t.VolumeType != "io2" && t.VolumeType != "gp3" {
		return "iops", fmt.Errorf("applies only to volumeType io1, io2 or gp3, not %s", t.VolumeType)
	}
	return "", nil
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
	if err != nil || !(len(s) > 4 && strings.HasPrefix(s, "ami-") || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "resolve:ssm:/")) {
		return errors.New("must be an AMI id (ami-...), an SSM parameter path (/...) or resolve:ssm:/...")
	}
	t.ImageID = s
	return nil
}

var errInstanceType = errors.New("must be an instance type such as t3.micro")

// isInstanceType accepts names shaped like EC2's (t3.micro, u-6tb1.metal).
func isInstanceType(s string) bool {
	family, size, dot := strings.Cut(s, ".")
	ok := dot && family != "" && size != "" && !strings.Contains(size, ".")
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.'
	}
	return ok
}

// weights reads {instanceType: n}, each n at least least.
func weights(p func(*Template) *map[string]int, least int) func(*Template, field) error {
	why := "must map instance types to integers of at least " + strconv.Itoa(least)
	return func(t *Template, f field) error {
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
	}
}

// ids reads ids given as a list or a comma-separated string.
func ids(p func(*Template) *[]string, prefix string) func(*Template, field) error {
	return func(t *Template, f field) error {
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
	}
}

func plain(p func(*Template) *string) func(*Template, field) error {
	return func(t *Template, f field) (err error) {
		*p(t), err = f.text()
		return err
	}
}

func bounded(p func(*Template) *int, lo, hi int) func(*Template, field) error {
	why := "must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)
	return func(t *Template, f field) (err error) {
		*p(t), err = f.intWhere(func(n int) bool { return n >= lo && n <= hi }, why)
		return err
	}
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
		switch {
		case tg.Key == "" || len(tg.Key) > 128:
			return nil, errors.New("tag keys must have 1-128 characters")
		case len(tg.Value) > 256:
			return nil, fmt.Errorf("tag %q: values must have at most 256 characters", tg.Key)
		case strings.HasPrefix(strings.ToLower(tg.Key), "aws:"):
			return nil, fmt.Errorf("tag %q: keys starting with aws: are reserved by AWS", tg.Key)
		}
		for _, prev := range out[:i] {
			if prev.Key == tg.Key {
				return nil, fmt.Errorf("tag %q is given twice", tg.Key)
			}
		}
	}
	return out, nil
}

// snake spells IBM's camelCase names as the seeds do (vmTypesOnDemand,
// vm_types_on_demand).
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
