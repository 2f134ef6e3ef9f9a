package doctor

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/iampolicy"
)

// simulator is IAM's policy simulation, which judges the calls that have
// no dry run: Auto Scaling's, terminating ohfp's own instances (EC2 looks
// the instance up before the permission), and DynamoDB's. It returns the
// actions not allowed.
type simulator interface {
	simulate(ctx context.Context, principal string, actions, resources []string, context map[string]string) ([]string, error)
}

// principalARN is the IAM user or role whose policies a caller ARN (from
// GetCallerIdentity) uses: SimulatePrincipalPolicy takes no assumed-role
// session. A role with a path is not found under this ARN; the check then
// says it could not simulate.
func principalARN(caller string) (string, bool) {
	parts := strings.SplitN(caller, ":", 6)
	if len(parts) != 6 {
		return "", false
	}
	account, resource := parts[4], parts[5]
	switch {
	case parts[2] == "iam" && (strings.HasPrefix(resource, "user/") || strings.HasPrefix(resource, "role/")):
		return caller, true
	case parts[2] == "sts" && strings.HasPrefix(resource, "assumed-role/"):
		role, _, _ := strings.Cut(strings.TrimPrefix(resource, "assumed-role/"), "/")
		return "arn:" + parts[1] + ":iam::" + account + ":role/" + role, true
	}
	return "", false
}

// simulation is one set of calls judged together: the actions on the
// resources ohfp uses them on, with the context AWS would see.
type simulation struct {
	name      string
	actions   []string
	resources []string
	context   map[string]string
}

// simulations are the calls without a dry run that cfg makes.
func simulations(cfg *config.Config, account string) []simulation {
	region := cfg.AWS.Region
	out := []simulation{{
		name:      "permission to terminate ohfp's instances",
		actions:   []string{"ec2:TerminateInstances"},
		resources: []string{"arn:aws:ec2:" + region + ":" + account + ":instance/*"},
		context:   map[string]string{"aws:ResourceTag/" + cloud.TagProvider: cfg.ProviderName, "ec2:ResourceTag/" + cloud.TagProvider: cfg.ProviderName},
	}}
	if slices.ContainsFunc(cfg.Templates, func(t config.Template) bool { return t.API() == config.APIASG }) {
		out = append(out, simulation{
			name:      "permission to manage ohfp's Auto Scaling groups",
			actions:   prefixed(iampolicy.ActionsOf(config.APIASG), "autoscaling:"),
			resources: []string{"arn:aws:autoscaling:" + region + ":" + account + ":autoScalingGroup:*:autoScalingGroupName/ohfp-doctor"},
		})
	}
	if cfg.Storage.Type == "dynamodb" {
		d := cfg.Storage.DynamoDB
		out = append(out, simulation{
			name:      "permission to use the DynamoDB tables",
			actions:   iampolicy.ActionsOf(iampolicy.FeatureDynamoDB),
			resources: []string{"arn:aws:dynamodb:" + cmp.Or(d.Region, region) + ":" + account + ":table/" + d.TablePrefix + "-requests"},
		})
	}
	return out
}

func prefixed(actions []string, prefix string) []string {
	var out []string
	for _, a := range actions {
		if strings.HasPrefix(a, prefix) {
			out = append(out, a)
		}
	}
	return out
}

// checkSimulated judges each simulation with iam:SimulatePrincipalPolicy,
// where the credentials may call it; otherwise it says what it could not
// check.
//
//ohfp:iam optional
func checkSimulated(ctx context.Context, sim simulator, cfg *config.Config, caller, account string, r *Report) {
	principal, ok := principalARN(caller)
	for _, s := range simulations(cfg, account) {
		if !ok {
			r.add(Check{Name: s.name, Status: Skip, Detail: "not checked: " + caller + " is no IAM user or role to simulate"})
			continue
		}
		refused, err := sim.simulate(ctx, principal, s.actions, s.resources, s.context)
		switch {
		case err != nil:
			r.add(Check{Name: s.name, Status: Skip, Detail: "not checked: iam:SimulatePrincipalPolicy of " + principal + " failed: " + errText(err),
				Hint: "these calls have no dry run; allow iam:SimulatePrincipalPolicy on the role for doctor to judge them, or watch the first request's log"})
		case len(refused) > 0:
			slices.Sort(refused)
			r.add(Check{Name: s.name, Status: Fail, Detail: "denied (simulated): " + strings.Join(slices.Compact(refused), ", "), Hint: policyHint})
		default:
			r.add(Check{Name: s.name, Status: Pass, Detail: strings.Join(s.actions, ", ") + " allowed (simulated with iam:SimulatePrincipalPolicy)"})
		}
	}
}
