package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The rules AWS documents about a template's fields, in one place for
// every package that needs them (cloud/aws, iampolicy, doctor). Each has
// a row, with its source, in docs/aws-rules.md.

const (
	// MaxUserData is the most user data EC2 takes, in bytes before
	// base64 (RunInstances, UserData: "limited to 16 KB").
	MaxUserData = 16 * 1024
	// MaxInstanceTags is the most instanceTags a template may give: EC2
	// takes 50 tags per resource, and ohfp adds its own to every one.
	MaxInstanceTags = 40
	// MaxGroupSpotPools is the most spot pools an Auto Scaling group
	// spreads over (InstancesDistribution, SpotInstancePools: 1-20).
	MaxGroupSpotPools = 20
	// MaxFleetPools is the most pools (instance type x subnet) an EC2
	// Fleet of type request or maintain, or a Spot Fleet, takes.
	MaxFleetPools = 300
)

// CheckTag refuses a tag EC2 would refuse: a key of 1 to 128 characters,
// a value of at most 256, no aws: prefix. It holds for a template's
// instanceTags and a request's attributes; the latter also keep out of
// ohfp's own namespace (hf.decodeAttributes).
func CheckTag(t Tag) error {
	switch {
	case t.Key == "" || utf8.RuneCountInString(t.Key) > 128:
		return errors.New("tag keys must have 1-128 characters")
	case utf8.RuneCountInString(t.Value) > 256:
		return fmt.Errorf("tag %q: values must have at most 256 characters", t.Key)
	case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
		return fmt.Errorf("tag %q: keys starting with aws: are reserved by AWS", t.Key)
	}
	return nil
}

// MergeTags is the user tags of a request's instances: the template's
// instanceTags, then the request's own tags, which win for a key both give.
func MergeTags(template, request []Tag) []Tag {
	if len(request) == 0 {
		return template
	}
	out := make([]Tag, 0, len(template)+len(request))
	for _, t := range template {
		if !slices.ContainsFunc(request, func(r Tag) bool { return r.Key == t.Key }) {
			out = append(out, t)
		}
	}
	return append(out, request...)
}

// API is the launch API the template uses: its providerApi, which
// loading always sets, or RunInstances for a template built elsewhere.
func (t Template) API() string {
	if t.ProviderAPI == "" {
		return APIRunInstances
	}
	return t.ProviderAPI
}

// Fleet is the type of fleet an EC2Fleet or SpotFleet template asks for,
// with their defaults (instant and request); "" for the other APIs.
func (t Template) Fleet() string {
	switch t.API() {
	case APIEC2Fleet:
		if t.FleetType == "" {
			return FleetInstant
		}
	case APISpotFleet:
		if t.FleetType == "" {
			return FleetRequest
		}
	default:
		return ""
	}
	return t.FleetType
}

// ImageParameter is the SSM parameter the template's imageId names
// ("/path" or "resolve:ssm:/path"), and whether it names one rather than
// an AMI.
func (t Template) ImageParameter() (name string, ok bool) {
	if name, ok := strings.CutPrefix(t.ImageID, "resolve:ssm:"); ok {
		return name, true
	}
	return t.ImageID, strings.HasPrefix(t.ImageID, "/")
}

// OneSubnetPerZone reports whether the template's API binds it to AWS's
// rule that an EC2 Fleet or Spot Fleet request can't span different
// subnets of the same Availability Zone.
func (t Template) OneSubnetPerZone() bool {
	return t.API() == APIEC2Fleet || t.API() == APISpotFleet
}

// ZoneRule checks the template's subnets against that rule
// (OneSubnetPerZone); zoneOf gives a subnet's zone ("" when unknown, which
// passes).
func (t Template) ZoneRule(zoneOf func(subnet string) string) error {
	if !t.OneSubnetPerZone() {
		return nil
	}
	first := map[string]string{}
	for _, sn := range t.SubnetIDs {
		zone := zoneOf(sn)
		if zone == "" {
			continue
		}
		if other, dup := first[zone]; dup && other != sn {
			return fmt.Errorf("subnetId: %s and %s are both in %s, and a fleet request can't span different subnets of the same Availability Zone; give one subnet per zone, or providerApi RunInstances or ASG", other, sn, zone)
		}
		first[zone] = sn
	}
	return nil
}

// pools is how many instance type x subnet pools a fleet of the template
// draws from.
func (t Template) pools() int {
	types := len(t.VMTypes)
	if _, in := t.VMTypes[t.VMType]; t.VMType != "" && !in {
		types++
	}
	return max(types, 1) * max(len(t.SubnetIDs), 1)
}

// awsRule checks the template against AWS's documented rules that need
// no AWS call; it names the field at fault. Loading runs it after the
// defaults are filled in.
func (t *Template) awsRule() (string, error) {
	switch {
	case t.API() == APIASG && len(t.SubnetIDs) == 0:
		return "subnetId", fmt.Errorf("is required with providerApi ASG: Auto Scaling needs at least one subnet or Availability Zone")
	case t.API() == APIASG && t.PoolsCount > MaxGroupSpotPools:
		return "poolsCount", fmt.Errorf("must be at most %d with providerApi ASG (Auto Scaling's SpotInstancePools is 1-%d), got %d", MaxGroupSpotPools, MaxGroupSpotPools, t.PoolsCount)
	case len(t.InstanceTags) > MaxInstanceTags:
		return "instanceTags", fmt.Errorf("at most %d tags: EC2 takes 50 tags per resource, and ohfp adds its own; got %d", MaxInstanceTags, len(t.InstanceTags))
	case t.Fleet() != "" && t.Fleet() != FleetInstant && t.pools() > MaxFleetPools:
		return "vmTypes", fmt.Errorf("%d instance types x subnets: a %s fleet takes at most %d pools", t.pools(), t.Fleet(), MaxFleetPools)
	}
	return "", nil
}

// knownTypes are the EC2 instance types this release knows: the AWS
// SDK's list, from AWS's own API model.
var knownTypes = sync.OnceValue(func() map[string]bool {
	all := ec2types.InstanceType("").Values()
	m := make(map[string]bool, len(all))
	for _, it := range all {
		m[string(it)] = true
	}
	return m
})

// isInstanceType reports whether s is an EC2 instance type.
func isInstanceType(s string) bool { return knownTypes()[s] }

// isResourceID reports whether s is an EC2 resource id of the prefix:
// the prefix, a hyphen, then 8 or 17 lowercase letters and digits
// (EC2 User Guide, Resource IDs).
func isResourceID(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"-")
	if !ok || len(rest) != 8 && len(rest) != 17 {
		return false
	}
	return !slices.ContainsFunc([]byte(rest), func(c byte) bool { return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') })
}
