package doctor

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// iamSimulator asks IAM through aws-sdk-go-v2's client, which knows each
// partition's IAM endpoint and signing region, and retries as the other
// clients do. Only doctor uses it; it adds no allocation at start (see
// TestStartupAllocations).
type iamSimulator struct{ client *iam.Client }

// simulate returns the actions that the policies of principal do not allow
// on resources, with context, each with its decision.
//
//ohfp:iam optional
func (s iamSimulator) simulate(ctx context.Context, principal string, actions, resources []string, context map[string]string) ([]string, error) {
	in := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: &principal, ActionNames: actions, ResourceArns: resources}
	for k, v := range context {
		in.ContextEntries = append(in.ContextEntries, types.ContextEntry{ContextKeyName: awssdk.String(k), ContextKeyType: types.ContextKeyTypeEnumString, ContextKeyValues: []string{v}})
	}
	var refused []string
	for p := iam.NewSimulatePrincipalPolicyPaginator(s.client, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range page.EvaluationResults {
			if r.EvalDecision != types.PolicyEvaluationDecisionTypeAllowed {
				refused = append(refused, awssdk.ToString(r.EvalActionName)+" ("+string(r.EvalDecision)+")")
			}
		}
	}
	return refused, nil
}

// roleARN is the ARN of the role called name, with its path, which an
// assumed-role session's ARN leaves out.
//
//ohfp:iam optional
func (s iamSimulator) roleARN(ctx context.Context, name string) (string, error) {
	out, err := s.client.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	if err != nil {
		return "", err
	}
	if out.Role == nil || out.Role.Arn == nil {
		return "", fmt.Errorf("iam:GetRole of %s answered no ARN", name)
	}
	return *out.Role.Arn, nil
}
