package aws

import (
	"context"
	"slices"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// interruptionCodes are the spot request status codes AWS sets when it
// takes a spot instance back: the notice, then how it was taken.
var interruptionCodes = map[string]bool{
	"marked-for-termination":                      true,
	"marked-for-stop":                             true,
	"marked-for-hibernation":                      true,
	"instance-terminated-by-price":                true,
	"instance-terminated-no-capacity":             true,
	"instance-terminated-capacity-oversubscribed": true,
	"instance-terminated-launch-group-constraint": true,
	"instance-terminated-by-experiment":           true,
	"instance-stopped-by-price":                   true,
	"instance-stopped-no-capacity":                true,
	"instance-stopped-capacity-oversubscribed":    true,
	"instance-stopped-by-experiment":              true,
	"instance-hibernated-by-price":                true,
	"instance-hibernated-no-capacity":             true,
	"instance-hibernated-capacity-oversubscribed": true,
	"instance-terminated-by-service":              true,
	"instance-stopped-by-service":                 true,
}

// Interruptions returns, for the spot instances among ids that AWS has
// marked for reclaim, when the mark was set. Instances are looked up by
// filter, so an id that is not a spot instance is simply absent.
//
//ohfp:iam spot
func (p *Provider) Interruptions(ctx context.Context, ids []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	for chunk := range slices.Chunk(ids, filterValues) {
		pages := ec2.NewDescribeSpotInstanceRequestsPaginator(p.ec2, &ec2.DescribeSpotInstanceRequestsInput{
			Filters:    []types.Filter{{Name: awssdk.String("instance-id"), Values: chunk}},
			MaxResults: awssdk.Int32(describePage),
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx, p.describeOpts...)
			if err != nil {
				return nil, awsError("ec2:DescribeSpotInstanceRequests", err)
			}
			for _, r := range page.SpotInstanceRequests {
				if r.InstanceId == nil || r.Status == nil || !interruptionCodes[awssdk.ToString(r.Status.Code)] {
					continue
				}
				out[*r.InstanceId] = awssdk.ToTime(r.Status.UpdateTime)
			}
		}
	}
	return out, nil
}
