package sandbox

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Ids of the resources every sandbox starts with.
const (
	DefaultImageID         = "ami-0sandbox000000001" // Amazon Linux 2023, x86_64
	DefaultArmImageID      = "ami-0sandbox000000002" // Amazon Linux 2023, arm64
	DefaultVPCID           = "vpc-0sandbox00000001"
	DefaultSecurityGroupID = "sg-0sandbox00000001"
	DefaultKeyName         = "sandbox-key"
)

// DefaultSubnetIDs are the subnets every sandbox starts with, one per zone
// a, b and c of the region.
var DefaultSubnetIDs = []string{"subnet-0sandbox0000000a", "subnet-0sandbox0000000b", "subnet-0sandbox0000000c"}

// Image is an AMI the sandbox can launch.
type Image struct {
	ID           string `json:"id"`
	Name         string `json:"name,omitempty"`
	Architecture string `json:"architecture,omitempty"` // x86_64 (default) or arm64
	OwnerID      string `json:"ownerId,omitempty"`      // default the account
}

// Subnet is a subnet instances can launch into.
type Subnet struct {
	ID    string `json:"id"`
	Zone  string `json:"zone,omitempty"` // default zone a of the region
	CIDR  string `json:"cidr"`
	VPCID string `json:"vpcId,omitempty"`
}

// LaunchTemplate gives RunInstances, fleets and groups defaults for what
// the call leaves out. Its versions 1 to Versions (at least 1) are all
// alike; $Default is 1, $Latest the last.
type LaunchTemplate struct {
	ID               string   `json:"id"`
	Versions         int      `json:"versions,omitempty"`
	Name             string   `json:"name,omitempty"`
	ImageID          string   `json:"imageId,omitempty"`
	InstanceType     string   `json:"instanceType,omitempty"`
	SubnetID         string   `json:"subnetId,omitempty"`
	KeyName          string   `json:"keyName,omitempty"`
	SecurityGroupIDs []string `json:"securityGroupIds,omitempty"`
	Spot             bool     `json:"spot,omitempty"`

	Zone               string `json:"zone,omitempty"`               // Placement.AvailabilityZone
	MaxPrice           string `json:"maxPrice,omitempty"`           // spot maximum price
	IAMInstanceProfile string `json:"iamInstanceProfile,omitempty"` // ARN
	UserData           string `json:"userData,omitempty"`
	EBSOptimized       bool   `json:"ebsOptimized,omitempty"`
	// InstanceTags and VolumeTags land on what is launched from the
	// template; Tags are the template's own.
	InstanceTags map[string]string `json:"instanceTags,omitempty"`
	VolumeTags   map[string]string `json:"volumeTags,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	Created      time.Time         `json:"created,omitzero"`
}

// CapacityLimit is how many more instances of a type a zone can take.
type CapacityLimit struct {
	InstanceType string `json:"instanceType"`
	Zone         string `json:"zone,omitempty"` // "" for every zone
	Remaining    int    `json:"remaining"`
}

type capKey struct{ instanceType, zone string }

// subnet is a Subnet with its address allocator.
type subnet struct {
	Subnet
	prefix netip.Prefix
	next   uint32   // next host offset never handed out
	free   []uint32 // offsets of purged instances, for reuse
}

// world is everything the sandbox's AWS knows. Sandbox.mu guards it.
type world struct {
	images    map[string]Image
	subnets   map[string]*subnet
	templates map[string]LaunchTemplate
	groups    map[string]string // security group id -> name
	keyPairs  map[string]string // key pair name -> id
	params    map[string]string // SSM parameters
	capacity  map[capKey]int
	quotas    Quotas

	instances []*instance // in launch order
	byID      map[string]*instance
	bySpotID  map[string]*instance
	tokens    map[string]*launchToken // ClientToken -> first launch
	seq       uint64

	fleets      []*fleet // EC2 Fleets and Spot Fleets, in creation order
	fleetByID   map[string]*fleet
	fleetTokens map[string]*fleet // ClientToken -> fleet
	asgs        map[string]*asGroup
}

func newWorld(o Options) world {
	w := world{
		images:    map[string]Image{},
		subnets:   map[string]*subnet{},
		templates: map[string]LaunchTemplate{},
		groups:    map[string]string{DefaultSecurityGroupID: "default"},
		keyPairs:  map[string]string{DefaultKeyName: "key-0sandbox00000001"},
		params:    map[string]string{},
		capacity:  map[capKey]int{},
		byID:      map[string]*instance{},
		bySpotID:  map[string]*instance{},
		tokens:    map[string]*launchToken{},

		fleetByID:   map[string]*fleet{},
		fleetTokens: map[string]*fleet{},
		asgs:        map[string]*asGroup{},
	}
	for _, im := range []Image{
		{ID: DefaultImageID, Name: "al2023-ami-2023.6-kernel-6.1-x86_64", Architecture: "x86_64", OwnerID: "137112412989"},
		{ID: DefaultArmImageID, Name: "al2023-ami-2023.6-kernel-6.1-arm64", Architecture: "arm64", OwnerID: "137112412989"},
	} {
		w.addImage(im, o.AccountID)
	}
	for i, id := range DefaultSubnetIDs {
		// /18s: room for 16k instances per zone.
		cidr := fmt.Sprintf("10.0.%d.0/18", i*64)
		if err := w.addSubnet(Subnet{ID: id, Zone: o.Region + string(rune('a'+i)), CIDR: cidr}, o.Region); err != nil {
			panic(err) // the defaults are valid
		}
	}
	for _, arch := range []string{"x86_64", "arm64"} {
		id := DefaultImageID
		if arch == "arm64" {
			id = DefaultArmImageID
		}
		w.params["/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-"+arch] = id
		w.params["/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-"+arch] = id
		w.params["/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-"+arch+"-gp2"] = id
	}
	return w
}

func (w *world) addImage(im Image, account string) error {
	if !strings.HasPrefix(im.ID, "ami-") {
		return fmt.Errorf("sandbox: image id %q does not start with ami-", im.ID)
	}
	if im.Architecture == "" {
		im.Architecture = "x86_64"
	}
	if im.Architecture != "x86_64" && im.Architecture != "arm64" {
		return fmt.Errorf("sandbox: image architecture %q is neither x86_64 nor arm64", im.Architecture)
	}
	if im.OwnerID == "" {
		im.OwnerID = account
	}
	if im.Name == "" {
		im.Name = im.ID
	}
	w.images[im.ID] = im
	return nil
}

func (w *world) addSubnet(sn Subnet, region string) error {
	if !strings.HasPrefix(sn.ID, "subnet-") {
		return fmt.Errorf("sandbox: subnet id %q does not start with subnet-", sn.ID)
	}
	prefix, err := netip.ParsePrefix(sn.CIDR)
	if err != nil || !prefix.Addr().Is4() || prefix.Bits() > 28 {
		return fmt.Errorf("sandbox: subnet %s: CIDR %q is not an IPv4 block of /28 or more", sn.ID, sn.CIDR)
	}
	if sn.Zone == "" {
		sn.Zone = region + "a"
	}
	if sn.VPCID == "" {
		sn.VPCID = DefaultVPCID
	}
	sn.CIDR = prefix.Masked().String()
	// Like AWS, keep the first four addresses and the last one.
	w.subnets[sn.ID] = &subnet{Subnet: sn, prefix: prefix.Masked(), next: 4}
	return nil
}

// size is the number of addresses in the subnet.
func (sn *subnet) size() uint32 { return 1 << (32 - sn.prefix.Bits()) }

// allocate hands out a private IP, or "" when the subnet is full.
func (sn *subnet) allocate() string {
	var off uint32
	switch {
	case len(sn.free) > 0:
		off = sn.free[len(sn.free)-1]
		sn.free = sn.free[:len(sn.free)-1]
	case sn.next < sn.size()-1:
		off = sn.next
		sn.next++
	default:
		return ""
	}
	base := sn.prefix.Addr().As4()
	ip := binary.BigEndian.Uint32(base[:]) + off
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], ip)
	return netip.AddrFrom4(b).String()
}

// release gives ip back to the subnet.
func (sn *subnet) release(ip string) {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !sn.prefix.Contains(addr) {
		return
	}
	a, base := addr.As4(), sn.prefix.Addr().As4()
	sn.free = append(sn.free, binary.BigEndian.Uint32(a[:])-binary.BigEndian.Uint32(base[:]))
}

// available is how many instances of typ zone can still take; -1 is no limit.
func (w *world) available(typ, zone string) int {
	if n, ok := w.capacity[capKey{typ, zone}]; ok {
		return n
	}
	if n, ok := w.capacity[capKey{typ, ""}]; ok {
		return n
	}
	return -1
}

// otherZones lists the zones with subnets, but zone, as EC2's capacity
// errors suggest them.
func (w *world) otherZones(zone string) []string {
	seen := map[string]bool{zone: true}
	var out []string
	for _, sn := range w.subnets {
		if !seen[sn.Zone] {
			seen[sn.Zone] = true
			out = append(out, sn.Zone)
		}
	}
	sort.Strings(out)
	return out
}

// take uses up n of the capacity rule that governs typ in zone.
func (w *world) take(typ, zone string, n int) {
	for _, k := range []capKey{{typ, zone}, {typ, ""}} {
		if left, ok := w.capacity[k]; ok {
			w.capacity[k] = max(0, left-n)
			return
		}
	}
}

// zoneSubnets are the first subnet of each of zones, in order: where a
// group given Availability Zones rather than subnets launches.
func (w *world) zoneSubnets(zones []string) []string {
	var out []string
	for _, z := range zones {
		for _, id := range sortedKeys(w.subnets) {
			if w.subnets[id].Zone == z {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

// sortedKeys is m's keys in order, for stable answers.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Tokens are opaque to clients; base64 keeps them from looking editable.
func encodeToken(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(n)))
}

func decodeToken(tok string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(string(b))
	if err == nil && n < 0 {
		err = errors.New("negative token")
	}
	return n, err
}

// RegisterImage adds or replaces an AMI.
func (s *Sandbox) RegisterImage(im Image) error {
	defer s.update()()
	return s.world.addImage(im, s.opts.AccountID)
}

// RegisterSubnet adds or replaces a subnet; private IPs come from its CIDR.
func (s *Sandbox) RegisterSubnet(sn Subnet) error {
	defer s.update()()
	return s.world.addSubnet(sn, s.opts.Region)
}

// RegisterLaunchTemplate adds or replaces a launch template.
func (s *Sandbox) RegisterLaunchTemplate(lt LaunchTemplate) error {
	if !strings.HasPrefix(lt.ID, "lt-") {
		return fmt.Errorf("sandbox: launch template id %q does not start with lt-", lt.ID)
	}
	defer s.update()()
	s.world.templates[lt.ID] = lt
	return nil
}

// RegisterSecurityGroup adds a security group of the default VPC.
func (s *Sandbox) RegisterSecurityGroup(id, name string) error {
	if !strings.HasPrefix(id, "sg-") {
		return fmt.Errorf("sandbox: security group id %q does not start with sg-", id)
	}
	defer s.update()()
	s.world.groups[id] = name
	return nil
}

// RegisterKeyPair adds a key pair.
func (s *Sandbox) RegisterKeyPair(name string) error {
	if name == "" {
		return errors.New("sandbox: key pair needs a name")
	}
	defer s.update()()
	if _, ok := s.world.keyPairs[name]; !ok {
		s.world.keyPairs[name] = fmt.Sprintf("key-%017x", len(s.world.keyPairs)+1)
	}
	return nil
}

// SetParameter sets an SSM parameter (e.g. an AMI alias to an image id).
func (s *Sandbox) SetParameter(name, value string) {
	defer s.update()()
	s.world.params[name] = value
}

// SetCapacity lets only n more instances of instanceType launch in zone
// ("" for every zone without a rule of its own); n = 0 means no capacity.
// Launches use the capacity up; terminations do not give it back.
func (s *Sandbox) SetCapacity(instanceType, zone string, n int) error {
	if instanceType == "" || n < 0 {
		return fmt.Errorf("sandbox: capacity needs an instance type and n >= 0")
	}
	defer s.update()()
	s.world.capacity[capKey{instanceType, zone}] = n
	return nil
}

// ClearCapacity removes every capacity limit.
func (s *Sandbox) ClearCapacity() {
	defer s.update()()
	clear(s.world.capacity)
}

// Capacity lists the capacity limits in force.
func (s *Sandbox) Capacity() []CapacityLimit {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]CapacityLimit, 0, len(s.world.capacity))
	for k, n := range s.world.capacity {
		out = append(out, CapacityLimit{InstanceType: k.instanceType, Zone: k.zone, Remaining: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].InstanceType != out[j].InstanceType {
			return out[i].InstanceType < out[j].InstanceType
		}
		return out[i].Zone < out[j].Zone
	})
	return out
}
