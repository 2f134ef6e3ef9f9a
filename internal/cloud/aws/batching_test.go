package aws

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/fault"
)

// instanceIDs are n made-up instance ids.
func instanceIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("i-%017x", i+1)
	}
	return out
}

// knownInstances answers DescribeInstances by id as EC2 does: the whole
// call is refused when one id is unknown, naming the unknown ones (or
// none, when silent).
func knownInstances(known []string, silent bool) func(*ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
	return func(in *ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
		var res types.Reservation
		var unknown []string
		for _, id := range in.InstanceIds {
			if !slices.Contains(known, id) {
				unknown = append(unknown, id)
				continue
			}
			res.Instances = append(res.Instances, types.Instance{InstanceId: awssdk.String(id),
				State: &types.InstanceState{Name: types.InstanceStateNameRunning}})
		}
		switch {
		case len(unknown) > 0 && silent:
			return nil, apiErr(codeInstanceNotFound, "An instance ID does not exist")
		case len(unknown) > 0:
			return nil, notFound(unknown)
		}
		return &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{res}}, nil
	}
}

func TestDescribeByID(t *testing.T) {
	all := instanceIDs(2500)
	for _, tc := range []struct {
		name   string
		ask    []string
		known  []string
		silent bool
		calls  int
	}{
		{name: "all known, 1000 a call", ask: all, known: all, calls: 3},
		{name: "unknown named are dropped and the rest asked again", ask: all[:10], known: all[:7], calls: 2},
		{name: "unknown unnamed are narrowed down by halves", ask: all[:8], known: slices.Delete(slices.Clone(all[:8]), 3, 4), silent: true, calls: 7},
		{name: "none known", ask: all[:3], known: nil, calls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fe := &fakeEC2{describeInstances: knownInstances(tc.known, tc.silent)}
			p := fakeProvider(t, fe, nil)

			got, err := p.Instances(t.Context(), cloud.Query{InstanceIDs: tc.ask})

			if err != nil {
				t.Fatalf("Instances: %v", err)
			}
			gotIDs := ids(got)
			slices.Sort(gotIDs)
			if !slices.Equal(gotIDs, tc.known) {
				t.Errorf("got %d instances, want the %d known", len(gotIDs), len(tc.known))
			}
			if n := len(fe.callsOf("DescribeInstances")); n != tc.calls {
				t.Errorf("%d DescribeInstances calls, want %d", n, tc.calls)
			}
		})
	}
}

func TestDescribeFiltersStayUnderTheLimit(t *testing.T) {
	fe := &fakeEC2{describeInstances: func(*ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
		return &ec2.DescribeInstancesOutput{}, nil
	}}
	p := fakeProvider(t, fe, nil)
	q := cloud.Query{Provider: "awsinst"}
	for i := range 1000 {
		q.RequestIDs = append(q.RequestIDs, fmt.Sprintf("req-%d", i))
	}
	if _, err := p.Instances(t.Context(), q); err != nil {
		t.Fatalf("Instances: %v", err)
	}
	// 1000 request ids at 200 a call, and the provider's.
	if n := len(fe.callsOf("DescribeInstances")); n != 6 {
		t.Errorf("%d DescribeInstances calls, want 6", n)
	}
}

// refusing terminates every id but those of refused, which fail the whole
// call they are in with code, as EC2 does.
func refusing(refused map[string]bool, code string, terminated *[]string) func([]string) error {
	return func(ids []string) error {
		for _, id := range ids {
			if refused[id] {
				return apiErr(code, "You are not authorized to perform this operation.")
			}
		}
		*terminated = append(*terminated, ids...)
		return nil
	}
}

func TestTerminateSplitsAroundARefusedID(t *testing.T) {
	all := instanceIDs(1500)
	for _, tc := range []struct {
		name       string
		code       string
		refused    []string
		wantAlive  []string
		wantCalls  int
		wantErrAll bool // the refusal is the whole call's: nothing terminated
	}{
		{name: "unauthorized one", code: "UnauthorizedOperation", refused: all[700:701], wantAlive: all[700:701]},
		{name: "protected two", code: "OperationNotPermitted", refused: []string{all[3], all[1200]}, wantAlive: []string{all[3], all[1200]}},
		{name: "throttled is not split", code: "RequestLimitExceeded", refused: all[:1], wantCalls: 1, wantErrAll: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var terminated []string
			refused := map[string]bool{}
			for _, id := range tc.refused {
				refused[id] = true
			}
			fe := &fakeEC2{terminateInstances: refusing(refused, tc.code, &terminated)}
			p := fakeProvider(t, fe, nil)
			ask := all
			if tc.wantErrAll {
				ask = all[:10]
			}

			err := p.Terminate(t.Context(), ask)

			if fault.CodeOf(err) != fault.Cloud || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("err = %v, want a %s naming %s", err, fault.Cloud, tc.code)
			}
			if tc.wantErrAll {
				if len(terminated) != 0 || len(fe.callsOf("TerminateInstances")) != tc.wantCalls {
					t.Errorf("%d terminated in %d calls, want none in %d", len(terminated), len(fe.callsOf("TerminateInstances")), tc.wantCalls)
				}
				return
			}
			for _, id := range tc.refused {
				if !strings.Contains(err.Error(), id) {
					t.Errorf("err = %v, does not name %s", err, id)
				}
			}
			slices.Sort(terminated)
			if want := without(all, tc.wantAlive); !slices.Equal(terminated, want) {
				t.Errorf("%d terminated, want %d: all but the refused", len(terminated), len(want))
			}
			for _, c := range fe.callsOf("TerminateInstances") {
				if len(c) > terminateBatch {
					t.Errorf("a call of %d ids", len(c))
				}
			}
		})
	}
}
