package iampolicy

import (
	"slices"
	"strings"

	"github.com/ohfp/ohfp/internal/config"
)

// ImpliedActions are actions AWS checks for calls of other names; the
// generator records their reference resource types too.
var ImpliedActions = []string{"ec2:RunInstances"}

// impliedActions are the actions AWS checks beyond those the code calls.
//
// A fleet or group launches from a launch template, and AWS checks the
// template's resources (image, security groups, key pair) under
// ec2:RunInstances for the caller: the Service Authorization Reference on
// ec2:CreateFleet ("Resource-level permissions for this action do not
// include the resources specified in a launch template"), the EC2 Auto
// Scaling user guide ("Amazon EC2 Auto Scaling API permissions":
// CreateAutoScalingGroup needs ec2:RunInstances when a launch template is
// provided), and the EC2 user guide ("Spot Fleet permissions").
func (u usage) impliedActions() []string {
	if u.launchViaLTs {
		return ImpliedActions
	}
	return nil
}

// Services that the launch APIs hand roles to or create linked roles for.
const (
	ec2Service         = "ec2.amazonaws.com"
	spotFleetService   = "spotfleet.amazonaws.com"
	spotService        = "spot.amazonaws.com"
	ec2FleetService    = "ec2fleet.amazonaws.com"
	autoscalingService = "autoscaling.amazonaws.com"
)

// tagOnCreate are the calls that tag what they create, through
// TagSpecifications: each needs ec2:CreateTags with ec2:CreateAction set
// to it (EC2 user guide, "Grant permission to tag Amazon EC2 resources
// during creation").
var tagOnCreate = []string{"ec2:RunInstances", "ec2:CreateFleet", "ec2:RequestSpotFleet", "ec2:CreateLaunchTemplate"}

// impliedStatements grant what AWS checks on the caller's behalf, given the
// statements granted so far.
func (u usage) impliedStatements(granted []Statement) []Statement {
	var creators []string
	for _, s := range granted {
		for _, a := range s.Action {
			if slices.Contains(tagOnCreate, a) {
				creators = append(creators, strings.TrimPrefix(a, "ec2:"))
			}
		}
	}
	var st []Statement
	if len(creators) > 0 {
		// Tags only at creation, so that the tag condition on
		// TerminateOwn cannot be forged on someone else's instance.
		slices.Sort(creators)
		st = append(st, Statement{Sid: "TagAtCreation", Action: []string{"ec2:CreateTags"}, Resource: []string{u.ec2ARN("*", "*")},
			Condition: Conditions{"StringEquals": {"ec2:CreateAction": creators}}})
	}
	// Passing a role: an instance profile's role to EC2 (RunInstances,
	// CreateFleet, and CreateAutoScalingGroup with a launch template that
	// names one), a fleet role to Spot Fleet (EC2 user guide, "Spot Fleet
	// permissions").
	for _, pass := range []struct {
		sid, service string
		names        map[string]bool
	}{{"PassInstanceRoles", ec2Service, u.profiles}, {"PassFleetRole", spotFleetService, u.fleetRoles}} {
		if len(pass.names) == 0 {
			continue
		}
		var arns []string
		for n := range pass.names {
			arns = append(arns, roleARN(n))
		}
		st = append(st, Statement{Sid: pass.sid, Action: []string{"iam:PassRole"}, Resource: arns,
			Condition: Conditions{"StringEquals": {"iam:PassedToService": {pass.service}}}})
	}
	// The first use of spot, EC2 Fleet, Spot Fleet or Auto Scaling creates
	// the service's linked role under the caller's identity (EC2 user
	// guide, "EC2 Fleet prerequisites" and "Spot Fleet permissions"; EC2
	// Auto Scaling user guide, "Amazon EC2 Auto Scaling API permissions").
	var linked []string
	if u.features[FeatureSpot] {
		linked = append(linked, spotService)
	}
	for api, service := range map[string]string{config.APIEC2Fleet: ec2FleetService, config.APISpotFleet: spotFleetService, config.APIASG: autoscalingService} {
		if u.features[Feature(api)] {
			linked = append(linked, service)
		}
	}
	if len(linked) > 0 {
		slices.Sort(linked)
		st = append(st, Statement{Sid: "ServiceLinkedRoles", Action: []string{"iam:CreateServiceLinkedRole"},
			Resource:  []string{"arn:aws:iam::*:role/aws-service-role/*"},
			Condition: Conditions{"StringEquals": {"iam:AWSServiceName": linked}}})
	}
	return st
}

// roleARN is the ARN of the role a name or ARN stands for. An instance
// profile's role is taken to bear the profile's name, as the console makes
// them; the policy must be edited where they differ.
func roleARN(nameOrARN string) string {
	if !strings.HasPrefix(nameOrARN, "arn:") {
		return "arn:aws:iam::*:role/" + nameOrARN
	}
	if head, name, ok := strings.Cut(nameOrARN, ":instance-profile/"); ok {
		return head + ":role/" + name[strings.LastIndex(name, "/")+1:]
	}
	return nameOrARN
}
