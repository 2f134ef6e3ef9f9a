package aws

import (
	"context"
	"errors"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// terminateBatch is the most ids one TerminateInstances call takes.
const terminateBatch = 1000

// Terminate terminates the instances ids. Ids EC2 no longer knows are
// taken as already gone, and terminated instances stay terminated, so
// neither fails the call or stops the others.
func (p *Provider) Terminate(ctx context.Context, ids []string) error {
	var errs []error
	for batch := range slices.Chunk(ids, terminateBatch) {
		errs = append(errs, p.terminate(ctx, batch))
	}
	return errors.Join(errs...)
}

// terminate terminates one batch. An InvalidInstanceID.NotFound answer
// names the unknown ids: the call is repeated without them. EC2 refuses a
// whole call for one id it will not terminate (unauthorized, protected),
// so a batch refused for another reason than throttling is split, down to
// single ids, and only the refused ones stay running.
func (p *Provider) terminate(ctx context.Context, ids []string) error {
	return narrowing(ids, mayBeOneItems, func(ids []string) error {
		gone, err := dropRejected(ids, codeInstanceNotFound, func(ids []string) error {
			_, err := p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
			return err
		})
		if len(gone) > 0 {
			p.log.Info("instances already gone", "instances", gone)
		}
		switch left := without(ids, gone); {
		case err == nil:
			return nil
		case apiCode(err) == codeInstanceNotFound && len(left) == 1:
			return nil // the one left is the one not found
		case len(left) == 1:
			return awsError("ec2:TerminateInstances "+left[0], err)
		case mayBeOneItems(err):
			return err // split by narrowing
		default:
			return awsError("ec2:TerminateInstances", err)
		}
	})
}
