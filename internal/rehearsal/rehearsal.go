// Package rehearsal prepares `ohfp sandbox` to stand in for an
// administrator's AWS account: it lists the AWS resources a provider
// instance's templates name (images, SSM image parameters, subnets,
// security groups, key pairs, launch templates), so that the sandbox can
// create them and the instance's own files run against it unchanged.
package rehearsal

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// Resources lists what cfg's templates name, in a stable order. Subnets
// get zones a to f of region in turn, so that a fleet's subnets lie in
// different zones as AWS requires, and CIDRs apart from the sandbox's own.
func Resources(cfg *config.Config, region string) sandbox.Resources {
	r := sandbox.Resources{ImageParameters: map[string]sandbox.Image{}}
	images := map[string]sandbox.Image{}
	subnets, groups, keys := map[string]bool{}, map[string]bool{}, map[string]bool{}
	templates := map[string]sandbox.LaunchTemplate{}
	var subnetOrder []string
	for _, t := range cfg.Templates {
		arch := architecture(t)
		if name, ok := t.ImageParameter(); ok {
			r.ImageParameters[name] = sandbox.Image{ID: imageFor(name), Name: name, Architecture: arch}
		} else if t.ImageID != "" {
			images[t.ImageID] = sandbox.Image{ID: t.ImageID, Architecture: arch}
		}
		for _, sn := range t.SubnetIDs {
			if !subnets[sn] {
				subnets[sn] = true
				subnetOrder = append(subnetOrder, sn)
			}
		}
		for _, sg := range t.SecurityGroupIDs {
			groups[sg] = true
		}
		if t.KeyName != "" {
			keys[t.KeyName] = true
		}
		if t.LaunchTemplateID != "" {
			templates[t.LaunchTemplateID] = launchTemplate(t, arch, templates[t.LaunchTemplateID])
		}
	}
	for _, id := range slices.Sorted(maps.Keys(images)) {
		r.Images = append(r.Images, images[id])
	}
	for i, sn := range subnetOrder {
		r.Subnets = append(r.Subnets, sandbox.Subnet{ID: sn, Zone: region + string(rune('a'+i%6)),
			CIDR: fmt.Sprintf("10.%d.%d.0/20", 1+i/16, i%16*16)})
	}
	r.SecurityGroups = slices.Sorted(maps.Keys(groups))
	r.KeyPairs = slices.Sorted(maps.Keys(keys))
	for _, id := range slices.Sorted(maps.Keys(templates)) {
		r.LaunchTemplates = append(r.LaunchTemplates, templates[id])
	}
	return r
}

// architecture is the architecture of the template's first instance type
// the sandbox knows, x86_64 when it knows none.
func architecture(t config.Template) string {
	types := append([]string{t.VMType}, slices.Sorted(maps.Keys(t.VMTypes))...)
	for _, name := range types {
		if archs, ok := sandbox.InstanceTypeArchitectures(name); ok && len(archs) > 0 {
			if slices.Contains(archs, "x86_64") {
				return "x86_64"
			}
			return archs[0]
		}
	}
	return "x86_64"
}

// imageFor names the AMI an SSM parameter resolves to in the sandbox: the
// same for the same name, so repeated rehearsals agree.
func imageFor(parameter string) string {
	sum := sha256.Sum256([]byte(parameter))
	return "ami-0" + hex.EncodeToString(sum[:])[:16]
}

// launchTemplate is a launch template with what t leaves to it: an image
// and an instance type when t names none, and as many versions as t's
// version number asks for.
func launchTemplate(t config.Template, arch string, lt sandbox.LaunchTemplate) sandbox.LaunchTemplate {
	lt.ID, lt.Name = t.LaunchTemplateID, t.LaunchTemplateID
	if n, err := strconv.Atoi(t.LaunchTemplateVersion); err == nil {
		lt.Versions = max(lt.Versions, n)
	}
	if t.ImageID == "" && lt.ImageID == "" {
		lt.ImageID = sandbox.DefaultImageID
		if arch == "arm64" {
			lt.ImageID = sandbox.DefaultArmImageID
		}
	}
	if t.VMType == "" && len(t.VMTypes) == 0 && lt.InstanceType == "" {
		lt.InstanceType = "t3.micro"
		if arch == "arm64" {
			lt.InstanceType = "t4g.micro"
		}
	}
	return lt
}
