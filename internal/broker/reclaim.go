package broker

import (
	"context"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// Reclaim is a host the cloud has taken or will take back.
type Reclaim struct {
	Name        string
	InstanceID  string
	GracePeriod int // seconds left; 0 when already gone
}

// Reclaims reports which of the hosts HostFactory holds are gone or going.
// If the cloud cannot be asked it reports nothing, and says why: calling
// every host gone because a list call failed would drain a whole cluster.
func (b *Broker) Reclaims(ctx context.Context, hosts []store.MachineRef) ([]Reclaim, error) {
	if len(hosts) == 0 {
		return nil, nil
	}
	var ids, names []string
	for _, h := range hosts {
		if h.InstanceID != "" {
			ids = append(ids, h.InstanceID)
		} else {
			names = append(names, h.Name)
		}
	}
	known := map[string]store.Machine{}
	byName := map[string]store.Machine{}
	for _, q := range []store.MachineQuery{{InstanceIDs: ids}, {Names: names}} {
		if len(q.InstanceIDs)+len(q.Names) == 0 {
			continue
		}
		ms, err := b.store.Machines(ctx, q)
		if err != nil {
			return nil, fault.Wrap(fault.Internal, err, "reading machines")
		}
		for _, m := range ms {
			known[m.InstanceID] = m
			byName[m.Name] = m
		}
	}
	query := cloud.Query{InstanceIDs: ids}
	for _, n := range names {
		if m, ok := byName[n]; ok {
			query.InstanceIDs = append(query.InstanceIDs, m.InstanceID)
		}
	}
	insts, err := b.cloud.Instances(ctx, query)
	if err != nil {
		return nil, fault.Wrap(fault.Cloud, err, "cannot ask the cloud which hosts are gone; reporting none")
	}
	seen := make(map[string]cloud.Instance, len(insts))
	for _, inst := range insts {
		seen[inst.ID] = inst
	}
	now := b.now()
	var out []Reclaim
	for _, h := range hosts {
		id := h.InstanceID
		if id == "" {
			m, ok := byName[h.Name]
			if !ok {
				continue // a host we never knew, by name only: nothing to say
			}
			id = m.InstanceID
		}
		inst, found := seen[id]
		if !found {
			if m, ok := known[id]; ok && now.Sub(m.LaunchTime) < visibilityGrace {
				continue // launched moments ago, not yet visible
			}
			out = append(out, Reclaim{Name: h.Name, InstanceID: id})
			continue
		}
		switch inst.State {
		case "pending", "running":
		default:
			out = append(out, Reclaim{Name: h.Name, InstanceID: id})
		}
	}
	return out, nil
}
