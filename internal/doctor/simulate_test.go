package doctor

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/ohfp/ohfp/internal/config"
)

func TestPrincipalARN(t *testing.T) {
	for _, c := range []struct{ caller, want, role string }{
		{"arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/alice", ""},
		{"arn:aws:iam::123456789012:role/ops/hf", "arn:aws:iam::123456789012:role/ops/hf", ""},
		{"arn:aws:sts::123456789012:assumed-role/hf-master/i-0abc", "arn:aws:iam::123456789012:role/hf-master", "hf-master"},
		{"arn:aws-cn:sts::123456789012:assumed-role/hf/s", "arn:aws-cn:iam::123456789012:role/hf", "hf"},
		{"arn:aws:sts::123456789012:federated-user/bob", "", ""},
		{"not an arn", "", ""},
	} {
		got, role, ok := principalARN(c.caller)
		if got != c.want || role != c.role || ok != (c.want != "") {
			t.Errorf("principalARN(%q) = %q, %q, %v; want %q, %q", c.caller, got, role, ok, c.want, c.role)
		}
	}
}

type fakeSimulator struct {
	refused    map[string]string // action -> decision
	err        error
	roles      map[string]string // role name -> ARN; nil: GetRole denied
	asked      [][]string
	principals []string
}

func (f *fakeSimulator) simulate(_ context.Context, principal string, actions, _ []string, _ map[string]string) ([]string, error) {
	f.asked = append(f.asked, actions)
	f.principals = append(f.principals, principal)
	var out []string
	for _, a := range actions {
		if d := f.refused[a]; d != "" {
			out = append(out, a+" ("+d+")")
		}
	}
	return out, f.err
}

func (f *fakeSimulator) roleARN(_ context.Context, name string) (string, error) {
	if f.roles == nil {
		return "", &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: iam:GetRole"}
	}
	if arn, ok := f.roles[name]; ok {
		return arn, nil
	}
	return "", &smithy.GenericAPIError{Code: "NoSuchEntity", Message: "The role with name " + name + " cannot be found."}
}

// TestSimulatedPrincipalKeepsTheRolePath: an assumed-role session's ARN
// lacks its role's path, so the role simulated is the one iam:GetRole
// names; without GetRole the root-path ARN is tried, and a failure says
// why it may be wrong.
func TestSimulatedPrincipalKeepsTheRolePath(t *testing.T) {
	caller := "arn:aws:sts::123456789012:assumed-role/hf/i-0abc"
	cfg := &config.Config{ProviderName: "p", AWS: config.AWS{Region: "us-east-1"}}
	withPath := &fakeSimulator{roles: map[string]string{"hf": "arn:aws:iam::123456789012:role/ops/hpc/hf"}}
	r := Report{OK: true}
	checkSimulated(context.Background(), withPath, cfg, caller, "123456789012", &r)
	if len(withPath.principals) == 0 || withPath.principals[0] != "arn:aws:iam::123456789012:role/ops/hpc/hf" {
		t.Errorf("simulated %v, want the role's ARN with its path", withPath.principals)
	}
	noGetRole := &fakeSimulator{err: &smithy.GenericAPIError{Code: "NoSuchEntity", Message: "cannot be found"}}
	r = Report{OK: true}
	checkSimulated(context.Background(), noGetRole, cfg, caller, "123456789012", &r)
	if noGetRole.principals[0] != "arn:aws:iam::123456789012:role/hf" || r.Checks[0].Status != Skip ||
		!strings.Contains(r.Checks[0].Detail, "iam:GetRole of hf failed") {
		t.Errorf("simulated %v: %+v", noGetRole.principals, r.Checks)
	}
}

func TestCheckSimulated(t *testing.T) {
	cfg := &config.Config{ProviderName: "p", AWS: config.AWS{Region: "us-east-1"},
		Templates: []config.Template{{ID: "g", ProviderAPI: config.APIASG}}}
	caller := "arn:aws:sts::123456789012:assumed-role/hf/s"
	cases := []struct {
		name   string
		sim    fakeSimulator
		caller string
		want   map[string]Status // check name -> status
		detail string
	}{
		{"allowed", fakeSimulator{}, caller, map[string]Status{"permission to terminate ohfp's instances": Pass, "permission to manage ohfp's Auto Scaling groups": Pass}, "allowed (simulated"},
		{"a group action denied", fakeSimulator{refused: map[string]string{"autoscaling:DetachInstances": "implicitDeny"}}, caller,
			map[string]Status{"permission to terminate ohfp's instances": Pass, "permission to manage ohfp's Auto Scaling groups": Fail}, "denied (simulated): autoscaling:DetachInstances (implicitDeny)"},
		{"may not simulate", fakeSimulator{err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"}}, caller,
			map[string]Status{"permission to terminate ohfp's instances": Skip, "permission to manage ohfp's Auto Scaling groups": Skip}, "not checked: iam:SimulatePrincipalPolicy"},
		{"no IAM principal", fakeSimulator{}, "arn:aws:sts::123456789012:federated-user/bob",
			map[string]Status{"permission to terminate ohfp's instances": Skip}, "is no IAM user or role"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Report{OK: true}
			checkSimulated(context.Background(), &c.sim, cfg, c.caller, "123456789012", &r)
			details := ""
			for _, ch := range r.Checks {
				details += ch.Detail + "\n"
				if want, ok := c.want[ch.Name]; ok && ch.Status != want {
					t.Errorf("%s: %s (%s), want %s", ch.Name, ch.Status, ch.Detail, want)
				}
			}
			if !strings.Contains(details, c.detail) {
				t.Errorf("details lack %q:\n%s", c.detail, details)
			}
			for _, asked := range c.sim.asked {
				if slices.Contains(asked, "autoscaling:CreateAutoScalingGroup") && !slices.Contains(asked, "autoscaling:DeleteAutoScalingGroup") {
					t.Errorf("group actions asked %v", asked)
				}
			}
		})
	}
}

// TestIAMSimulator: the SDK's IAM client reaches the configured endpoint,
// sends what doctor asks, follows IAM's pages and reads IAM's errors.
func TestIAMSimulator(t *testing.T) {
	var forms []url.Values
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		forms = append(forms, form)
		auth = r.Header.Get("Authorization")
		switch {
		case form.Get("Action") == "GetRole":
			io.WriteString(w, `<GetRoleResponse><GetRoleResult><Role><Path>/ops/</Path><RoleName>hf</RoleName><RoleId>AROA1</RoleId>
<Arn>arn:aws:iam::1:role/ops/hf</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate></Role></GetRoleResult></GetRoleResponse>`)
		case form.Get("PolicySourceArn") == "arn:aws:iam::1:role/none":
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed</Message></Error></ErrorResponse>`)
		case form.Get("Marker") == "":
			io.WriteString(w, `<SimulatePrincipalPolicyResponse><SimulatePrincipalPolicyResult><IsTruncated>true</IsTruncated><Marker>m1</Marker><EvaluationResults>
<member><EvalActionName>ec2:TerminateInstances</EvalActionName><EvalDecision>allowed</EvalDecision></member>
</EvaluationResults></SimulatePrincipalPolicyResult></SimulatePrincipalPolicyResponse>`)
		default:
			io.WriteString(w, `<SimulatePrincipalPolicyResponse><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>
<member><EvalActionName>autoscaling:DetachInstances</EvalActionName><EvalDecision>implicitDeny</EvalDecision></member>
</EvaluationResults></SimulatePrincipalPolicyResult></SimulatePrincipalPolicyResponse>`)
		}
	}))
	defer srv.Close()
	cfg := awssdk.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), BaseEndpoint: &srv.URL}
	s := iamSimulator{iam.NewFromConfig(cfg)}
	ctx := context.Background()
	if arn, err := s.roleARN(ctx, "hf"); err != nil || arn != "arn:aws:iam::1:role/ops/hf" {
		t.Fatalf("roleARN = %q, %v", arn, err)
	}
	refused, err := s.simulate(ctx, "arn:aws:iam::1:role/ops/hf", []string{"ec2:TerminateInstances", "autoscaling:DetachInstances"},
		[]string{"arn:aws:ec2:eu-west-1:1:instance/*"}, map[string]string{"aws:ResourceTag/ohfp:provider": "p"})
	if err != nil || !slices.Equal(refused, []string{"autoscaling:DetachInstances (implicitDeny)"}) {
		t.Fatalf("refused %v, err %v", refused, err)
	}
	first := forms[1]
	if first.Get("Action") != "SimulatePrincipalPolicy" || first.Get("ActionNames.member.2") != "autoscaling:DetachInstances" ||
		first.Get("ContextEntries.member.1.ContextKeyValues.member.1") != "p" || forms[2].Get("Marker") != "m1" ||
		!strings.Contains(auth, "/iam/aws4_request") {
		t.Errorf("requests %v, Authorization %q", forms, auth)
	}
	_, err = s.simulate(ctx, "arn:aws:iam::1:role/none", []string{"ec2:TerminateInstances"}, nil, nil)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || !denied(err) {
		t.Errorf("error %v", err)
	}
}
