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
	"github.com/aws/smithy-go"

	"github.com/ohfp/ohfp/internal/config"
)

func TestPrincipalARN(t *testing.T) {
	for _, c := range []struct{ caller, want string }{
		{"arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/alice"},
		{"arn:aws:sts::123456789012:assumed-role/hf-master/i-0abc", "arn:aws:iam::123456789012:role/hf-master"},
		{"arn:aws-cn:sts::123456789012:assumed-role/hf/s", "arn:aws-cn:iam::123456789012:role/hf"},
		{"arn:aws:sts::123456789012:federated-user/bob", ""},
		{"not an arn", ""},
	} {
		got, ok := principalARN(c.caller)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("principalARN(%q) = %q, %v; want %q", c.caller, got, ok, c.want)
		}
	}
}

type fakeSimulator struct {
	refused map[string]string // action -> decision
	err     error
	asked   [][]string
}

func (f *fakeSimulator) simulate(_ context.Context, _ string, actions, _ []string, _ map[string]string) ([]string, error) {
	f.asked = append(f.asked, actions)
	var out []string
	for _, a := range actions {
		if d := f.refused[a]; d != "" {
			out = append(out, a+" ("+d+")")
		}
	}
	return out, f.err
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

// TestIAMQuery: the hand-written SimulatePrincipalPolicy call sends IAM's
// Query parameters, signed, and reads the answer and IAM's errors.
func TestIAMQuery(t *testing.T) {
	var form url.Values
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ = url.ParseQuery(string(b))
		auth = r.Header.Get("Authorization")
		if form.Get("PolicySourceArn") == "arn:aws:iam::1:role/none" {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed</Message></Error></ErrorResponse>`)
			return
		}
		io.WriteString(w, `<SimulatePrincipalPolicyResponse><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>
<member><EvalActionName>ec2:TerminateInstances</EvalActionName><EvalDecision>allowed</EvalDecision></member>
<member><EvalActionName>autoscaling:DetachInstances</EvalActionName><EvalDecision>implicitDeny</EvalDecision></member>
</EvaluationResults></SimulatePrincipalPolicyResult></SimulatePrincipalPolicyResponse>`)
	}))
	defer srv.Close()
	cfg := awssdk.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}
	q := newIAMQuery(cfg, srv.URL)
	refused, err := q.simulate(context.Background(), "arn:aws:iam::1:role/hf", []string{"ec2:TerminateInstances", "autoscaling:DetachInstances"},
		[]string{"arn:aws:ec2:eu-west-1:1:instance/*"}, map[string]string{"aws:ResourceTag/ohfp:provider": "p"})
	if err != nil || !slices.Equal(refused, []string{"autoscaling:DetachInstances (implicitDeny)"}) {
		t.Fatalf("refused %v, err %v", refused, err)
	}
	if form.Get("Action") != "SimulatePrincipalPolicy" || form.Get("ActionNames.member.2") != "autoscaling:DetachInstances" ||
		form.Get("ContextEntries.member.1.ContextKeyValues.member.1") != "p" || !strings.Contains(auth, "/us-east-1/iam/aws4_request") {
		t.Errorf("request %v, Authorization %q", form, auth)
	}
	_, err = q.simulate(context.Background(), "arn:aws:iam::1:role/none", []string{"ec2:TerminateInstances"}, nil, nil)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || !denied(err) {
		t.Errorf("error %v", err)
	}
}
