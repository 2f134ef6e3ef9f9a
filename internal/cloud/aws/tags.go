package aws

import (
	"context"
	"errors"
	"maps"
	"slices"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// tagBatch is the most resource ids one CreateTags call takes.
const tagBatch = 1000

// Tag adds tags to the instances ids (overwriting a value a key already
// has), in batches of at most tagBatch ids.
func (p *Provider) Tag(ctx context.Context, ids []string, tags map[string]string) error {
	list := make([]types.Tag, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		list = append(list, types.Tag{Key: awssdk.String(k), Value: awssdk.String(tags[k])})
	}
	var errs []error
	for batch := range slices.Chunk(ids, tagBatch) {
		if _, err := p.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: batch, Tags: list}); err != nil {
			errs = append(errs, awsError("ec2:CreateTags", err))
		}
	}
	return errors.Join(errs...)
}
