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
// the instance up before the permission), and DynamoDB's. simulate returns
// the actions not allowed; roleARN finds a role's full ARN.
type simulator interface {
	simulate(ctx context.Context, principal string, actions, resources []string, context map[string]string) ([]string, error)
	roleARN(ctx context.Context, name string) (string, error)
}

// principalARN is the IAM user or role whose policies a caller ARN (from
// GetCallerIdentity) uses: SimulatePrincipalPolicy takes no assumed-role
// session. An assumed-role ARN names the role without its path
// (arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION), so for one role is the
// role's name, whose full ARN only iam:GetRole tells; the ARN returned is
// then right only for a role at the root path.
func principalARN(caller string) (arn, role string, ok bool) {
	parts := strings.SplitN(caller, ":", 6)
	if len(parts) != 6 {
		return "", "", false
	}
	account, resource := parts[4], parts[5]
	switch {
	case parts[2] == "iam" && (strings.HasPrefix(resource, "user/") || strings.HasPrefix(resource, "role/")):
		return caller, "", true
	case parts[2] == "sts" && strings.HasPrefix(resource, "assumed-role/"):
		role, _, _ = strings.Cut(strings.TrimPrefix(resource, "assumed-role/"), "/")
		return "arn:" + parts[1] + ":iam::" + account + ":role/" + role, role, true
	}
	return "", "", false
}

// principal resolves caller to the principal to simulate, asking IAM for
// an assumed role's path; note says why the answer may be wrong.
func principal(ctx context.Context, sim simulator, caller string) (arn, note string, ok bool) {
	arn, role, ok := principalARN(caller)
	if !ok || role == "" {
		return arn, "", ok
	}
	full, err := sim.roleARN(ctx, role)
	if err != nil {
		return arn, "; iam:GetRole of " + role + " failed (" + errText(err) + "), so a path of the role is unknown", true
	}
	return full, "", true
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
	principal, note, ok := principal(ctx, sim, caller)
	for _, s := range simulations(cfg, account) {
		if !ok {
			r.add(Check{Name: s.name, Status: Skip, Detail: "not checked: " + caller + " is no IAM user or role to simulate"})
			continue
		}
		refused, err := sim.simulate(ctx, principal, s.actions, s.resources, s.context)
		switch {
		case err != nil:
			r.add(Check{Name: s.name, Status: Skip, Detail: "not checked: iam:SimulatePrincipalPolicy of " + principal + " failed: " + errText(err) + note,
				Hint: "these calls have no dry run; allow iam:SimulatePrincipalPolicy (and iam:GetRole for a role with a path) on the role for doctor to judge them, or watch the first request's log"})
		case len(refused) > 0:
			slices.Sort(refused)
			r.add(Check{Name: s.name, Status: Fail, Detail: "denied (simulated): " + strings.Join(slices.Compact(refused), ", "), Hint: policyHint})
		default:
			r.add(Check{Name: s.name, Status: Pass, Detail: strings.Join(s.actions, ", ") + " allowed (simulated with iam:SimulatePrincipalPolicy)"})
		}
	}
}
