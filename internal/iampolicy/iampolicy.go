// Package iampolicy writes the least-privilege IAM policy of a provider
// instance: exactly the AWS actions its templates' launch APIs call, on the
// resources the templates and the storage settings name.
package iampolicy

import (
	"encoding/json"
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

// Services that the launch APIs hand roles to or create linked roles for.
const (
	ec2Service         = "ec2.amazonaws.com"
	spotFleetService   = "spotfleet.amazonaws.com"
	spotService        = "spot.amazonaws.com"
	ec2FleetService    = "ec2fleet.amazonaws.com"
	autoscalingService = "autoscaling.amazonaws.com"
)

// usage is what the templates of one configuration need from AWS.
type usage struct {
	apis           map[string]bool // config.API*
	spot           bool
	images         map[string]bool // AMI ids
	ssmPaths       map[string]bool
	anyImage       bool // an SSM path or a launch template picks the AMI
	subnets        map[string]bool
	groups         map[string]bool
	keys           map[string]bool
	launchTemplate bool // a template names its own launch template
	profiles       map[string]bool
	fleetRoles     map[string]bool
}

func collect(cfg *config.Config) usage {
	u := usage{apis: map[string]bool{}, images: map[string]bool{}, ssmPaths: map[string]bool{},
		subnets: map[string]bool{}, groups: map[string]bool{}, keys: map[string]bool{},
		profiles: map[string]bool{}, fleetRoles: map[string]bool{}}
	for _, t := range cfg.Templates {
		u.apis[API(t)] = true
		u.spot = u.spot || t.PriceType == config.PriceSpot || t.PriceType == config.PriceHeterogeneous
		if path, ok := SSMPath(t.ImageID); ok {
			u.ssmPaths[path] = true
			u.anyImage = true
		} else if t.ImageID != "" {
			u.images[t.ImageID] = true
		} else {
			u.anyImage = true // the launch template names it
		}
		add(u.subnets, t.SubnetIDs...)
		add(u.groups, t.SecurityGroupIDs...)
		add(u.keys, t.KeyName)
		u.launchTemplate = u.launchTemplate || t.LaunchTemplateID != ""
		add(u.profiles, t.InstanceProfile)
		add(u.fleetRoles, t.FleetRole)
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

// API is the launch API a template uses, RunInstances when it names none.
func API(t config.Template) string {
	if t.ProviderAPI == "" {
		return config.APIRunInstances
	}
	return t.ProviderAPI
}

// SSMPath reports whether an imageId is an SSM parameter path, and which.
func SSMPath(image string) (string, bool) {
	if name, ok := strings.CutPrefix(image, "resolve:ssm:"); ok {
		return name, true
	}
	return image, strings.HasPrefix(image, "/")
}

// For is the policy cfg needs.
func For(cfg *config.Config) Policy {
	u := collect(cfg)
	region := cfg.AWS.Region
	ec2ARN := func(kind, id string) string { return "arn:aws:ec2:" + region + ":*:" + kind + "/" + id }

	var st []Statement
	describe := []string{"ec2:DescribeInstances", "ec2:DescribeInstanceTypes", "ec2:DescribeImages",
		"ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeKeyPairs"}
	if u.spot {
		describe = append(describe, "ec2:DescribeSpotInstanceRequests")
	}
	if u.apis[config.APIEC2Fleet] {
		describe = append(describe, "ec2:DescribeFleets", "ec2:DescribeFleetInstances")
	}
	if u.apis[config.APISpotFleet] {
		describe = append(describe, "ec2:DescribeSpotFleetRequests", "ec2:DescribeSpotFleetInstances", "ec2:DescribeSpotFleetRequestHistory")
	}
	if usesLaunchTemplates(u) {
		describe = append(describe, "ec2:DescribeLaunchTemplates")
	}
	// EC2's Describe calls support no resource-level permissions.
	st = append(st, Statement{Sid: "Describe", Action: describe, Resource: []string{"*"}})

	// Every launch API ends in RunInstances under the caller's identity (or,
	// for Spot Fleet, its fleet role), checked on each resource it touches.
	launch := []string{ec2ARN("instance", "*"), ec2ARN("volume", "*"), ec2ARN("network-interface", "*")}
	if u.anyImage {
		launch = append(launch, "arn:aws:ec2:"+region+"::image/*")
	}
	for id := range u.images {
		launch = append(launch, "arn:aws:ec2:"+region+"::image/"+id)
	}
	if len(u.subnets) == 0 {
		launch = append(launch, ec2ARN("subnet", "*"))
	}
	for id := range u.subnets {
		launch = append(launch, ec2ARN("subnet", id))
	}
	if len(u.groups) == 0 {
		launch = append(launch, ec2ARN("security-group", "*"))
	}
	for id := range u.groups {
		launch = append(launch, ec2ARN("security-group", id))
	}
	for name := range u.keys {
		launch = append(launch, ec2ARN("key-pair", name))
	}
	if usesLaunchTemplates(u) {
		launch = append(launch, ec2ARN("launch-template", "*"))
	}
	if u.spot {
		launch = append(launch, ec2ARN("spot-instances-request", "*"))
	}
	st = append(st, Statement{Sid: "Launch", Action: []string{"ec2:RunInstances"}, Resource: launch})

	// Tags only at creation, so that the tag conditions below cannot be
	// forged on someone else's instance.
	createActions := []string{"RunInstances"}
	if u.apis[config.APIEC2Fleet] {
		createActions = append(createActions, "CreateFleet")
	}
	if u.apis[config.APISpotFleet] {
		createActions = append(createActions, "RequestSpotFleet")
	}
	if usesLaunchTemplates(u) {
		createActions = append(createActions, "CreateLaunchTemplate")
	}
	st = append(st, Statement{Sid: "TagAtCreation", Action: []string{"ec2:CreateTags"}, Resource: []string{ec2ARN("*", "*")},
		Condition: Conditions{"StringEquals": {"ec2:CreateAction": createActions}}})

	// Only what this provider instance launched may be terminated.
	st = append(st, Statement{Sid: "TerminateOwn", Action: []string{"ec2:TerminateInstances"}, Resource: []string{ec2ARN("instance", "*")},
		Condition: Conditions{"StringEquals": {"aws:ResourceTag/" + cloud.TagProvider: {cfg.ProviderName}}}})

	st = append(st, fleetStatements(u, region, ec2ARN)...)
	st = append(st, roleStatements(u)...)

	if len(u.ssmPaths) > 0 {
		var arns []string
		for p := range u.ssmPaths {
			arns = append(arns, "arn:aws:ssm:"+region+":*:parameter"+p)
		}
		st = append(st, Statement{Sid: "ResolveImages", Action: []string{"ssm:GetParameter", "ssm:GetParameters"}, Resource: arns})
	}
	if cfg.Storage.Type == "dynamodb" {
		d := cfg.Storage.DynamoDB
		table := "arn:aws:dynamodb:" + d.Region + ":*:table/" + d.TablePrefix + "-*"
		st = append(st, Statement{Sid: "StateTables", Resource: []string{table, table + "/index/*"}, Action: []string{
			"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:CreateTable", "dynamodb:DescribeTable",
			"dynamodb:DescribeTimeToLive", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan",
			"dynamodb:UpdateItem", "dynamodb:UpdateTable", "dynamodb:UpdateTimeToLive"}})
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

// usesLaunchTemplates: fleets and groups launch from a launch template that
// ohfp creates and deletes, or from the template's own.
func usesLaunchTemplates(u usage) bool {
	return u.apis[config.APIEC2Fleet] || u.apis[config.APISpotFleet] || u.apis[config.APIASG] || u.launchTemplate
}

func fleetStatements(u usage, region string, ec2ARN func(kind, id string) string) []Statement {
	var st []Statement
	if usesLaunchTemplates(u) {
		st = append(st, Statement{Sid: "LaunchTemplates", Resource: []string{ec2ARN("launch-template", "*")},
			Action: []string{"ec2:CreateLaunchTemplate", "ec2:DeleteLaunchTemplate"}})
	}
	if u.apis[config.APIEC2Fleet] {
		st = append(st, Statement{Sid: "EC2Fleet", Resource: []string{ec2ARN("fleet", "*")},
			Action: []string{"ec2:CreateFleet", "ec2:DeleteFleets", "ec2:ModifyFleet"}})
	}
	if u.apis[config.APISpotFleet] {
		st = append(st, Statement{Sid: "SpotFleet", Resource: []string{ec2ARN("spot-fleet-request", "*")},
			Action: []string{"ec2:RequestSpotFleet", "ec2:CancelSpotFleetRequests", "ec2:ModifySpotFleetRequest"}})
	}
	if u.apis[config.APIASG] {
		// The Describe calls support no resource-level permissions.
		st = append(st, Statement{Sid: "AutoScalingDescribe", Resource: []string{"*"},
			Action: []string{"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeScalingActivities"}})
		// ohfp names its groups ohfp-<request id>; creating a group with
		// tags needs CreateOrUpdateTags too.
		st = append(st, Statement{Sid: "AutoScaling", Resource: []string{"arn:aws:autoscaling:" + region + ":*:autoScalingGroup:*:autoScalingGroupName/ohfp-*"},
			Action: []string{"autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup", "autoscaling:DeleteAutoScalingGroup",
				"autoscaling:DetachInstances", "autoscaling:CreateOrUpdateTags"}})
	}
	return st
}

// roleStatements let ohfp hand the named roles to EC2 and Spot Fleet, and
// create the service-linked roles its launch APIs need on first use.
func roleStatements(u usage) []Statement {
	var st []Statement
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
	var linked []string
	if u.spot {
		linked = append(linked, spotService)
	}
	if u.apis[config.APIEC2Fleet] {
		linked = append(linked, ec2FleetService)
	}
	if u.apis[config.APISpotFleet] {
		linked = append(linked, spotFleetService)
	}
	if u.apis[config.APIASG] {
		linked = append(linked, autoscalingService)
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
