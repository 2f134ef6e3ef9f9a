package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ohfp/ohfp/internal/cloud"
)

// A placement's Ref says what a launch left in the cloud, so that
// Fulfilment, Release and Retire need no lookup to find it:
//
//	r-0a1,r-0b2               RunInstances reservations: nothing to follow
//	fleet-0a1/lt-0b2          an EC2 Fleet and the ephemeral launch template to delete with it
//	fleet-0a1/instant         an instant EC2 Fleet (its launch template is already gone)
//	sfr-0a1/lt-0b2            a Spot Fleet request
//	asg:ohfp-req-1/lt-0b2     an Auto Scaling group
//
// A placement launched from the template's own launch template carries no
// lt- part: that one is the user's and is never deleted.
type placementRef struct {
	kind           refKind
	id             string // fleet id, spot fleet request id or group name
	launchTemplate string // ephemeral launch template id, if any
	instant        bool
	api            string // providerApi of a refRequest
}

type refKind int

const (
	refReservation refKind = iota
	refEC2Fleet
	refSpotFleet
	refGroup
	refRequest // cloud.RequestRef: the placement of a request is unknown
)

// groupPrefix marks an Auto Scaling group's name in a Ref.
const groupPrefix = "asg:"

// requestPrefix marks a cloud.RequestRef.
var requestPrefix = strings.TrimSuffix(cloud.RequestRef("", ""), ":")

func parseRef(s string) placementRef {
	parts := strings.Split(s, "/")
	r := placementRef{id: parts[0]}
	switch {
	case strings.HasPrefix(r.id, "fleet-"):
		r.kind = refEC2Fleet
	case strings.HasPrefix(r.id, "sfr-"):
		r.kind = refSpotFleet
	case strings.HasPrefix(r.id, groupPrefix):
		r.kind, r.id = refGroup, strings.TrimPrefix(r.id, groupPrefix)
	case strings.HasPrefix(s, requestPrefix):
		api, id, _ := strings.Cut(strings.TrimPrefix(s, requestPrefix), ":")
		return placementRef{kind: refRequest, id: id, api: api}
	default:
		return placementRef{kind: refReservation, id: s}
	}
	for _, p := range parts[1:] {
		switch {
		case p == "instant":
			r.instant = true
		case strings.HasPrefix(p, "lt-"):
			r.launchTemplate = p
		}
	}
	return r
}

func (r placementRef) String() string {
	s := r.id
	if r.kind == refGroup {
		s = groupPrefix + s
	}
	if r.launchTemplate != "" {
		s += "/" + r.launchTemplate
	}
	if r.instant {
		s += "/instant"
	}
	return s
}

// Fulfilment reports on ongoing placements: Done once the cloud will
// launch nothing more for one, with its reasons when it fell short.
// Reservations of RunInstances are done the moment they answer. Fleets
// and groups are described in batches, one call per kind and chunk.
func (p *Provider) Fulfilment(ctx context.Context, refs []string) (map[string]cloud.Fulfilment, error) {
	out := make(map[string]cloud.Fulfilment, len(refs))
	byKind := map[refKind][]placementRef{}
	for _, s := range refs {
		r := parseRef(s)
		if r.kind == refReservation {
			out[s] = cloud.Fulfilment{Done: true}
			continue
		}
		byKind[r.kind] = append(byKind[r.kind], r)
	}
	follow := map[refKind]func(context.Context, []placementRef, map[string]cloud.Fulfilment) error{
		refEC2Fleet:  p.ec2FleetFulfilment,
		refSpotFleet: p.spotFleetFulfilment,
		refGroup:     p.groupFulfilment,
	}
	for kind, rs := range byKind {
		if err := follow[kind](ctx, rs, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Release shrinks a fleet or group by instances about to be terminated, so
// that it does not replace them. A RunInstances reservation replaces
// nothing.
func (p *Provider) Release(ctx context.Context, ref string, ids []string) error {
	r := parseRef(ref)
	if len(ids) == 0 {
		return nil
	}
	switch r.kind {
	case refEC2Fleet:
		return p.releaseEC2Fleet(ctx, r, ids)
	case refSpotFleet:
		return p.releaseSpotFleet(ctx, r, ids)
	case refGroup:
		return p.releaseGroup(ctx, r, ids)
	}
	return nil
}

// Retire deletes what a placement keeps in the cloud once none of its
// instances is alive: the fleet or group, and its ephemeral launch
// template. What is already gone is not an error. A RunInstances
// reservation keeps nothing.
func (p *Provider) Retire(ctx context.Context, ref string) error {
	r := parseRef(ref)
	var err error
	switch r.kind {
	case refReservation:
		return nil
	case refEC2Fleet:
		err = p.deleteEC2Fleet(ctx, r.id, r.instant)
	case refSpotFleet:
		err = p.cancelSpotFleet(ctx, r.id)
	case refGroup:
		err = p.deleteGroup(ctx, r.id)
	case refRequest:
		return p.retireRequest(ctx, r.api, r.id)
	}
	return errors.Join(err, p.deleteLaunchTemplate(ctx, r.launchTemplate))
}

// followBatched judges the fleets or groups of refs: describe names at
// most batch of them at a call, id tells which one a description is, and
// judge says how far it got. One the cloud no longer knows (what names its
// kind) is done.
func followBatched[T any](ctx context.Context, refs []placementRef, out map[string]cloud.Fulfilment, batch int, what string,
	describe func(context.Context, []string) ([]T, error), id func(*T) string, judge func(context.Context, *T) cloud.Fulfilment) error {
	byID := make(map[string]placementRef, len(refs))
	for _, r := range refs {
		byID[r.id] = r
	}
	for chunk := range slices.Chunk(slices.Collect(maps.Keys(byID)), batch) {
		found, err := describe(ctx, chunk)
		if err != nil {
			return err
		}
		for i := range found {
			r, ok := byID[id(&found[i])]
			if !ok {
				continue
			}
			out[r.String()] = judge(ctx, &found[i])
			delete(byID, r.id)
		}
	}
	for _, r := range byID {
		out[r.String()] = cloud.Fulfilment{Done: true, Errors: []string{fmt.Sprintf("%s %s no longer exists.", what, r.id)}}
	}
	return nil
}

// pager is an SDK paginator of pages O from a client with options C.
type pager[O, C any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, optFns ...func(*C)) (O, error)
}

// allPages reads every page of a describe call and collects items.
func allPages[T, O, C any](ctx context.Context, pages pager[O, C], opts []func(*C), items func(O) []T) ([]T, error) {
	var out []T
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, items(page)...)
	}
	return out, nil
}

// known describes ids with describe (call op), leaving out those AWS no
// longer knows. EC2 refuses a whole describe by id when one id is unknown
// (code), naming the unknown ones: they are dropped and the rest asked
// again, and a refusal naming none is narrowed down by halves.
func known[T any](ids []string, code, op string, describe func([]string) ([]T, error)) ([]T, error) {
	var out []T
	err := narrowing(ids, isNotFound(code), func(ids []string) error {
		gone, err := dropRejected(ids, code, func(ids []string) error {
			got, err := describe(ids)
			out = append(out, got...)
			return err
		})
		if apiCode(err) == code && len(ids)-len(gone) == 1 {
			return nil // the one left is the one not found
		}
		return err
	})
	if err != nil {
		return nil, awsError(op, err)
	}
	return out, nil
}
