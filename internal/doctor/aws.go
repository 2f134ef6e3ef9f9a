package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	awscloud "github.com/ohfp/ohfp/internal/cloud/aws"
	"github.com/ohfp/ohfp/internal/config"
)

// clients are the AWS clients doctor asks, built as the provider builds its own.
type clients struct {
	sts *sts.Client
	ec2 *ec2.Client
	ssm *ssm.Client
	asg *autoscaling.Client
}

const policyHint = "grant it to the role or user ohfp runs as; `ohfp iam-policy` prints the policy the templates need"

func checkAWS(ctx context.Context, cfg *config.Config, r *Report) {
	sdk, err := awscloud.SDKConfig(ctx, cfg.AWS)
	if err != nil {
		r.add(Check{Name: "AWS settings", Status: Fail, Detail: err.Error(), Hint: "fix the AWS_* settings of the provider config"})
		return
	}
	// Without an endpoint in the config the SDK's own (AWS_ENDPOINT_URL*)
	// stands.
	if ep := awscloud.Endpoint(cfg.AWS); ep != nil {
		sdk.BaseEndpoint = ep
	}
	c := clients{sts: sts.NewFromConfig(sdk), ec2: ec2.NewFromConfig(sdk), ssm: ssm.NewFromConfig(sdk), asg: autoscaling.NewFromConfig(sdk)}
	id, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		hint := "set AWS_CREDENTIAL_FILE or AWS_PROFILE in the provider config, or give the host an instance role; the remaining AWS checks need credentials"
		if sdk.BaseEndpoint != nil {
			// A rehearsal against `ohfp sandbox` needs credentials too,
			// though any will do.
			hint += "; against `ohfp sandbox` (endpoint " + *sdk.BaseEndpoint + ") any will do: export AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox"
		}
		r.add(Check{Name: "AWS credentials resolve", Status: Fail, Detail: errText(err), Hint: hint})
		return
	}
	r.add(Check{Name: "AWS credentials resolve", Status: Pass, Detail: awssdk.ToString(id.Arn) + " in " + sdk.Region})
	r.add(ownership(ctx, cfg))

	images := resolveImages(ctx, c, cfg.Templates, r)
	missing := checkResources(ctx, c, cfg, images, r)
	prov, err := awscloud.New(ctx, cfg.AWS, nil, nil)
	if err != nil {
		r.add(Check{Name: "AWS settings", Status: Fail, Detail: err.Error()})
		return
	}
	for _, t := range cfg.Templates {
		for _, c := range launchAllowed(ctx, prov, cfg, t, images, missing[t.ID]) {
			r.add(c)
		}
	}
	checkCalls(ctx, c, cfg, r)
	checkSimulated(ctx, iamSimulator{iam.NewFromConfig(sdk)}, cfg, awssdk.ToString(id.Arn), awssdk.ToString(id.Account), r)
}

// errText, errCode and denied read AWS errors as the provider does.
var (
	errText = awscloud.ErrorText
	errCode = awscloud.ErrorCode
	denied  = awscloud.Denied
)

// dryRun turns the answer of a DryRun call into a check: DryRunOperation
// means allowed.
func dryRun(name, action string, err error) Check {
	c := Check{Name: name}
	switch code := errCode(err); {
	case code == "DryRunOperation":
		c.Status, c.Detail = Pass, action+" allowed"
	case denied(err):
		c.Status, c.Detail, c.Hint = Fail, action+" denied: "+errText(err), policyHint
	case code == "InvalidAction":
		c.Status, c.Detail = Skip, "not checked: the endpoint does not know "+action
	case err == nil:
		c.Status, c.Detail = Pass, action+" allowed"
	default:
		c.Status, c.Detail, c.Hint = Fail, action+": "+errText(err), "the call failed for another reason than permission; see the message"
	}
	return c
}

// users maps a resource to the templates naming it, in file order.
type users struct {
	order []string
	by    map[string][]string
}

func (u *users) add(resource, template string) {
	if resource == "" {
		return
	}
	if u.by == nil {
		u.by = map[string][]string{}
	}
	if _, seen := u.by[resource]; !seen {
		u.order = append(u.order, resource)
	}
	if !slices.Contains(u.by[resource], template) {
		u.by[resource] = append(u.by[resource], template)
	}
}

func (u *users) of(resource string) string {
	if ts := u.by[resource]; len(ts) > 1 {
		return "templates " + strings.Join(ts, ", ")
	}
	return "template " + u.by[resource][0]
}

// resolveImages resolves every SSM image path once; the answer maps each
// template's imageId to an AMI id (absent when it could not be resolved).
//
//ohfp:iam ssm
func resolveImages(ctx context.Context, c clients, templates []config.Template, r *Report) map[string]string {
	out := map[string]string{}
	var paths users
	for _, t := range templates {
		if path, ok := t.ImageParameter(); ok {
			paths.add(path, t.ID)
		} else if t.ImageID != "" {
			out[t.ImageID] = t.ImageID
		}
	}
	for _, path := range paths.order {
		name := "SSM parameter " + path + " resolves (" + paths.of(path) + ")"
		p, err := c.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: awssdk.String(path)})
		switch {
		case errCode(err) == "ParameterNotFound":
			r.add(Check{Name: name, Status: Fail, Detail: "no such parameter in the region", Hint: "fix imageId of the template"})
		case denied(err):
			r.add(Check{Name: name, Status: Fail, Detail: "ssm:GetParameter denied: " + errText(err), Hint: policyHint})
		case err != nil:
			r.add(Check{Name: name, Status: Fail, Detail: errText(err)})
		default:
			ami := awssdk.ToString(p.Parameter.Value)
			out["resolve:ssm:"+path], out[path] = ami, ami
			r.add(Check{Name: name, Status: Pass, Detail: ami})
		}
	}
	return out
}

// resource is one kind of AWS resource templates name, and how to list
// those of some ids that exist.
type resource struct {
	kind  string
	field string // the template field that names it
	ids   users
	found func(ctx context.Context, ids []string) ([]string, error)
}

// checkResources checks that every AMI, subnet, security group, key pair
// and launch template the templates name exists, with one filtered Describe
// call per kind: unknown ids are simply absent from a filtered answer. It
// returns, by template id, the first resource found missing.
func checkResources(ctx context.Context, c clients, cfg *config.Config, images map[string]string, r *Report) (missing map[string]string) {
	missing = map[string]string{}
	filter := func(name string, ids []string) []types.Filter {
		return []types.Filter{{Name: awssdk.String(name), Values: ids}}
	}
	kinds := []*resource{
		{kind: "AMI", field: "imageId", found: func(ctx context.Context, ids []string) ([]string, error) {
			out, err := c.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: filter("image-id", ids)})
			return collect(out, err, func(o *ec2.DescribeImagesOutput) (s []string) {
				for _, x := range o.Images {
					s = append(s, awssdk.ToString(x.ImageId))
				}
				return s
			})
		}},
		{kind: "subnet", field: "subnetId", found: func(ctx context.Context, ids []string) ([]string, error) {
			out, err := c.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: filter("subnet-id", ids)})
			return collect(out, err, func(o *ec2.DescribeSubnetsOutput) (s []string) {
				for _, x := range o.Subnets {
					s = append(s, awssdk.ToString(x.SubnetId))
				}
				return s
			})
		}},
		{kind: "security group", field: "securityGroupIds", found: func(ctx context.Context, ids []string) ([]string, error) {
			out, err := c.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: filter("group-id", ids)})
			return collect(out, err, func(o *ec2.DescribeSecurityGroupsOutput) (s []string) {
				for _, x := range o.SecurityGroups {
					s = append(s, awssdk.ToString(x.GroupId))
				}
				return s
			})
		}},
		{kind: "key pair", field: "keyName", found: func(ctx context.Context, ids []string) ([]string, error) {
			out, err := c.ec2.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: filter("key-name", ids)})
			return collect(out, err, func(o *ec2.DescribeKeyPairsOutput) (s []string) {
				for _, x := range o.KeyPairs {
					s = append(s, awssdk.ToString(x.KeyName))
				}
				return s
			})
		}},
		{kind: "launch template", field: "launchTemplateId", found: func(ctx context.Context, ids []string) ([]string, error) {
			// DescribeLaunchTemplates has no id filter, and one unknown id
			// fails a call by ids as a whole: ask for each on its own.
			var found []string
			for _, id := range ids {
				_, err := c.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{id}})
				switch {
				case err == nil:
					found = append(found, id)
				case !strings.HasPrefix(errCode(err), "InvalidLaunchTemplateId"):
					return nil, err
				}
			}
			return found, nil
		}},
	}
	var profiles users
	for _, t := range cfg.Templates {
		kinds[0].ids.add(images[t.ImageID], t.ID)
		for _, s := range t.SubnetIDs {
			kinds[1].ids.add(s, t.ID)
		}
		for _, g := range t.SecurityGroupIDs {
			kinds[2].ids.add(g, t.ID)
		}
		kinds[3].ids.add(t.KeyName, t.ID)
		kinds[4].ids.add(t.LaunchTemplateID, t.ID)
		profiles.add(t.InstanceProfile, t.ID)
	}
	for _, k := range kinds {
		if len(k.ids.order) == 0 {
			continue
		}
		found, err := k.found(ctx, k.ids.order)
		if err != nil {
			c := Check{Name: k.kind + "s exist", Status: Fail, Detail: errText(err)}
			switch {
			case denied(err):
				c.Hint = policyHint
			case errCode(err) == "InvalidAction":
				c.Status, c.Detail = Skip, "not checked: the endpoint does not list "+k.kind+"s"
			}
			r.add(c)
			continue
		}
		for _, id := range k.ids.order {
			name := k.kind + " " + id + " exists (" + k.ids.of(id) + ")"
			if slices.Contains(found, id) {
				r.add(Check{Name: name, Status: Pass})
				continue
			}
			r.add(Check{Name: name, Status: Fail, Detail: "not found in " + cfg.AWS.Region,
				Hint: fmt.Sprintf("fix %s of %s, or create it in %s", k.field, k.ids.of(id), cfg.AWS.Region)})
			for _, t := range k.ids.by[id] {
				if missing[t] == "" {
					missing[t] = k.kind + " " + id
				}
			}
		}
	}
	for _, p := range profiles.order {
		r.add(Check{Name: "instance profile " + p + " exists (" + profiles.of(p) + ")", Status: Skip,
			Detail: "not checked: ohfp's policy does not ask for iam:GetInstanceProfile; the RunInstances dry run below does check that it may be passed",
			Hint:   "aws iam get-instance-profile --instance-profile-name NAME"})
	}
	return missing
}

// collect applies ids to a successful answer.
func collect[O any](out *O, err error, ids func(*O) []string) ([]string, error) {
	if err != nil {
		return nil, err
	}
	return ids(out), nil
}

// launchAllowed dry-runs, through the provider's own launch spec, the
// calls that launch one instance of t through its API, so that IAM judges
// the same resources a real launch touches. A template naming a missing
// resource is not dry-run: a pass would say it can launch, and it cannot.
func launchAllowed(ctx context.Context, p *awscloud.Provider, cfg *config.Config, t config.Template, images map[string]string, missing string) []Check {
	name := "template " + t.ID + " may launch instances"
	switch {
	case t.ImageID != "" && images[t.ImageID] == "":
		return []Check{{Name: name, Status: Skip, Detail: "not checked: its image did not resolve"}}
	case missing != "":
		return []Check{{Name: name, Status: Skip, Detail: "not checked: its " + missing + " does not exist"}}
	}
	runs, err := p.DryRunLaunch(ctx, t, cfg.ProviderName)
	if err != nil {
		return []Check{{Name: name, Status: Fail, Detail: errText(err), Hint: "fix the template; HostFactory's requests for it would fail the same way"}}
	}
	var out []Check
	for _, r := range runs {
		n := name
		if r.Action != "ec2:RunInstances" {
			n = "template " + t.ID + " may call " + r.Action
		}
		c := dryRun(n, r.Action, r.Err)
		if awscloud.LaunchTemplateMissing(r.Err) {
			c = Check{Name: n, Status: Skip, Detail: "not checkable before its launch template exists: AWS looked the launch template up before judging the permission"}
		}
		out = append(out, c)
	}
	return out
}

// checkCalls dry-runs the other calls ohfp makes: following and sizing
// instances, and following the fleets and groups the templates use.
// Terminating has no useful dry run (EC2 looks the instance up before the
// permission): checkSimulated judges it.
func checkCalls(ctx context.Context, c clients, cfg *config.Config, r *Report) {
	dry := awssdk.Bool(true)
	_, err := c.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{DryRun: dry})
	r.add(dryRun("permission to follow instances", "ec2:DescribeInstances", err))
	_, err = c.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{DryRun: dry})
	r.add(dryRun("permission to read instance type sizes", "ec2:DescribeInstanceTypes", err))

	apis := map[string]bool{}
	spot := false
	for _, t := range cfg.Templates {
		apis[t.API()] = true
		spot = spot || t.PriceType == config.PriceSpot || t.PriceType == config.PriceHeterogeneous
	}
	if spot {
		r.add(followSpot(ctx, c))
	}
	for _, api := range []string{config.APIEC2Fleet, config.APISpotFleet, config.APIASG} {
		if apis[api] {
			r.add(follow[api](ctx, c))
		}
	}
}

// follow dry-runs the describe call that follows the placements of a launch API.
var follow = map[string]func(context.Context, clients) Check{
	config.APIEC2Fleet: followEC2Fleets, config.APISpotFleet: followSpotFleets, config.APIASG: followGroups,
}

//ohfp:iam spot
func followSpot(ctx context.Context, c clients) Check {
	_, err := c.ec2.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{DryRun: awssdk.Bool(true)})
	return dryRun("permission to follow spot requests", "ec2:DescribeSpotInstanceRequests", err)
}

//ohfp:iam EC2Fleet
func followEC2Fleets(ctx context.Context, c clients) Check {
	_, err := c.ec2.DescribeFleets(ctx, &ec2.DescribeFleetsInput{DryRun: awssdk.Bool(true)})
	return dryRun("permission to follow EC2 fleets", "ec2:DescribeFleets", err)
}

//ohfp:iam SpotFleet
func followSpotFleets(ctx context.Context, c clients) Check {
	_, err := c.ec2.DescribeSpotFleetRequests(ctx, &ec2.DescribeSpotFleetRequestsInput{DryRun: awssdk.Bool(true)})
	return dryRun("permission to follow spot fleets", "ec2:DescribeSpotFleetRequests", err)
}

// followGroups: Auto Scaling has no DryRun, a one-record listing proves
// the permission.
//
//ohfp:iam ASG
func followGroups(ctx context.Context, c clients) Check {
	_, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: awssdk.Int32(1)})
	return dryRun("permission to follow Auto Scaling groups", "autoscaling:DescribeAutoScalingGroups", err)
}
