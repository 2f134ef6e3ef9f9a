package rehearsal

import (
	"testing"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/sandbox"
)

func TestResources(t *testing.T) {
	cfg := &config.Config{Templates: []config.Template{
		{ID: "arm", ImageID: "/site/ami/compute", VMType: "m7g.large", SubnetIDs: []string{"subnet-1", "subnet-2"}, SecurityGroupIDs: []string{"sg-1"}, KeyName: "k"},
		{ID: "lt", LaunchTemplateID: "lt-1", LaunchTemplateVersion: "3", SubnetIDs: []string{"subnet-2"}, SecurityGroupIDs: []string{"sg-1", "sg-2"}},
		{ID: "ami", ImageID: "ami-0123456789abcdef0", VMTypes: map[string]int{"c5.large": 1}},
	}}
	r := Resources(cfg, "eu-west-1")

	arm, ok := r.ImageParameters["/site/ami/compute"]
	if !ok || arm.Architecture != "arm64" || arm.ID != imageFor("/site/ami/compute") {
		t.Errorf("SSM image %+v, want an arm64 image for the Graviton type", arm)
	}
	if len(r.Images) != 1 || r.Images[0].ID != "ami-0123456789abcdef0" || r.Images[0].Architecture != "x86_64" {
		t.Errorf("images %+v", r.Images)
	}
	if len(r.Subnets) != 2 || r.Subnets[0].Zone == r.Subnets[1].Zone || r.Subnets[0].CIDR == r.Subnets[1].CIDR {
		t.Errorf("subnets %+v: want two, in different zones and blocks", r.Subnets)
	}
	if r.Subnets[0].Zone != "eu-west-1a" {
		t.Errorf("zone %s, want the config's region", r.Subnets[0].Zone)
	}
	if len(r.SecurityGroups) != 2 || len(r.KeyPairs) != 1 {
		t.Errorf("groups %v, key pairs %v", r.SecurityGroups, r.KeyPairs)
	}
	if len(r.LaunchTemplates) != 1 {
		t.Fatalf("launch templates %+v", r.LaunchTemplates)
	}
	lt := r.LaunchTemplates[0]
	if lt.ID != "lt-1" || lt.Versions != 3 || lt.ImageID != sandbox.DefaultImageID || lt.InstanceType == "" {
		t.Errorf("launch template %+v: want 3 versions, and an image and type since the template names none", lt)
	}

	// The sandbox takes them all, then again without creating twice.
	sb := sandbox.New(sandbox.Options{Region: "eu-west-1"})
	made, err := sb.Provide(r)
	if err != nil || len(made) != 8 {
		t.Fatalf("provided %d (%v): %q", len(made), err, made)
	}
	if again, err := sb.Provide(r); err != nil || len(again) != 0 {
		t.Errorf("second Provide made %q (%v)", again, err)
	}
}
