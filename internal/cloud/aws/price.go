package aws

import (
	"context"
	"strconv"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// SpotPrice is the lowest current spot price, in US dollars per hour, of
// one instance type of Linux/UNIX, over the zones it is offered in.
type SpotPrice struct {
	InstanceType string
	Zone         string
	USDPerHour   float64
}

// SpotPrices asks EC2 for the current spot prices of itypes: with a start
// and end time of now, DescribeSpotPriceHistory answers the last price
// change before the start time, "the effective price as of the start
// time" (API reference), in each zone. On-demand prices are not in the
// EC2 API.
//
//ohfp:iam spot
func (p *Provider) SpotPrices(ctx context.Context, itypes []string) ([]SpotPrice, error) {
	now := time.Now()
	pages := ec2.NewDescribeSpotPriceHistoryPaginator(p.ec2, &ec2.DescribeSpotPriceHistoryInput{
		InstanceTypes:       toInstanceTypes(itypes),
		ProductDescriptions: []string{"Linux/UNIX"},
		StartTime:           awssdk.Time(now),
		EndTime:             awssdk.Time(now),
	})
	lowest := map[string]SpotPrice{}
	var order []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, p.describeOpts...)
		if err != nil {
			return nil, awsError("ec2:DescribeSpotPriceHistory", err)
		}
		for _, h := range page.SpotPriceHistory {
			price, err := strconv.ParseFloat(awssdk.ToString(h.SpotPrice), 64)
			if err != nil {
				continue
			}
			t := string(h.InstanceType)
			if cur, ok := lowest[t]; !ok || price < cur.USDPerHour {
				if !ok {
					order = append(order, t)
				}
				lowest[t] = SpotPrice{InstanceType: t, Zone: awssdk.ToString(h.AvailabilityZone), USDPerHour: price}
			}
		}
	}
	out := make([]SpotPrice, 0, len(order))
	for _, t := range order {
		out = append(out, lowest[t])
	}
	return out, nil
}

func toInstanceTypes(names []string) []types.InstanceType {
	out := make([]types.InstanceType, len(names))
	for i, n := range names {
		out[i] = types.InstanceType(n)
	}
	return out
}
