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
// names the unknown ids: the call is repeated without them, or, when the
// message names none of ours, made once per id.
func (p *Provider) terminate(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		_, err := p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
		code, msg := apiError(err)
		switch {
		case err == nil:
			return nil
		case code != codeInstanceNotFound:
			return awsError("ec2:TerminateInstances", err)
		case len(ids) == 1:
			return nil
		}
		gone := namedIn(msg, ids)
		if len(gone) == 0 {
			return p.terminateEach(ctx, ids)
		}
		p.log.Info("instances already gone", "instances", gone)
		ids = without(ids, gone)
	}
	return nil
}

// terminateEach terminates ids one call each.
func (p *Provider) terminateEach(ctx context.Context, ids []string) error {
	var errs []error
	for _, id := range ids {
		errs = append(errs, p.terminate(ctx, []string{id}))
	}
	return errors.Join(errs...)
}
