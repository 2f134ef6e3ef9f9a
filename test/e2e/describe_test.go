package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/sandbox"
)

// TestPollsNameKnownInstances: the polls of a request describe the
// instances ohfp knows by their ids, as AWS advises (a describe by filters
// alone fails while an Availability Zone is disrupted, docs/aws-rules.md).
// What RunInstances and an instant fleet launched is known at once; only a
// fleet that keeps launching is searched by its request tag, for the
// instances it has not named yet.
func TestPollsNameKnownInstances(t *testing.T) {
	for _, tc := range []struct {
		api, fleetType string
		byTag          bool
	}{
		{api: "RunInstances"},
		{api: "EC2Fleet", fleetType: "instant"},
		{api: "EC2Fleet", fleetType: "request", byTag: true},
	} {
		t.Run(tc.api+" "+tc.fleetType, func(t *testing.T) {
			e := newEnv(t, sandbox.Options{PendingDelay: time.Minute}, []map[string]any{apiTemplate("T", tc.api, tc.fleetType, nil)}, nil)
			e.sb.RecordCalls(true)
			id := e.request("T", 4)
			if st, err := e.hf.Status(e.ctx(), id); err != nil || st.Requests[0].Status != "running" {
				t.Fatalf("first poll: %+v, %v", st, err)
			}
			e.sb.Advance(time.Minute)
			if req := e.wait(id); req.Status != "complete" || len(req.Machines) != 4 {
				t.Fatalf("%+v", req)
			}
			byID, byTag := 0, 0
			for _, c := range e.sb.Journal() {
				if c.Action != "ec2:DescribeInstances" {
					continue
				}
				switch {
				case c.Params["InstanceId.1"] != "":
					byID++
				case strings.HasPrefix(c.Params["Filter.1.Name"], "tag:ohfp:request-id"):
					byTag++
				default:
					t.Errorf("a describe neither by id nor by request tag: %v", c.Params)
				}
			}
			if byID == 0 {
				t.Error("no describe named the instances known")
			}
			if (byTag > 0) != tc.byTag {
				t.Errorf("%d describes by request tag, want some: %v", byTag, tc.byTag)
			}
		})
	}
}
