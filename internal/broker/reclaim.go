package broker

import (
	"context"
	"fmt"
	"slices"
	"time"

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

// spotNotice is how long AWS gives a spot instance between the interruption
// notice and taking it.
const spotNotice = 2 * time.Minute

// Reclaims reports which of the hosts HostFactory holds are gone or going:
// spot instances AWS marked for reclaim with the seconds left, and hosts
// stopped, terminated or missing with 0. If the cloud cannot be asked it
// reports nothing, and says why: calling every host gone because a list
// call failed would drain a whole cluster. Only the cloud's own actions
// are reclaims: a host HostFactory itself returned is reported once gone,
// as the contract wants for every host it lists, but never counted as a
// reclaim; an instance of another installation is not reported at all.
func (b *Broker) Reclaims(ctx context.Context, hosts []store.MachineRef) ([]Reclaim, error) {
	defer b.flushEvents(ctx) // after reconcileNow, which notes events too
	b.recoverPending(ctx)
	defer b.reconcileNow(ctx)
	if len(hosts) == 0 {
		b.listed(ctx, nil)
		return nil, nil
	}
	ids, known, err := b.resolveHosts(ctx, hosts)
	if err != nil {
		return nil, err
	}
	b.listed(ctx, known)
	var lookup []string
	for _, id := range ids {
		if id != "" && !slices.Contains(lookup, id) {
			lookup = append(lookup, id)
		}
	}
	insts, err := b.cloud.Instances(ctx, cloud.Query{InstanceIDs: lookup})
	if err != nil {
		return nil, fault.Wrap(fault.Cloud, err, "cannot ask the cloud which hosts are gone; reporting none")
	}
	seen := make(map[string]cloud.Instance, len(insts))
	var spot []string
	for _, inst := range insts {
		seen[inst.ID] = inst
		if inst.Spot && inst.State.Up() {
			spot = append(spot, inst.ID)
		}
	}
	var marks map[string]time.Time
	if len(spot) > 0 {
		if marks, err = b.cloud.Interruptions(ctx, spot); err != nil {
			return nil, fault.Wrap(fault.Cloud, err, "cannot ask the cloud which spot hosts are reclaimed; reporting none")
		}
	}
	now := b.now()
	var out []Reclaim
	for i, h := range hosts {
		id := ids[i]
		if id == "" {
			continue // a host we never knew, by name only: nothing to say
		}
		inst, found := seen[id]
		returned := known[id].ReturnID
		switch {
		case found && inst.OwnerFor(b.cfg.InstallationID) == cloud.OwnedElsewhere:
			b.log.Warn("host is another installation's; not reported", "instance_id", id, "name", h.Name,
				"installation", inst.Tags[cloud.TagInstallation])
			continue
		case !found:
			if m, ok := known[id]; ok && now.Sub(m.LaunchTime) < visibilityGrace {
				continue // launched moments ago, not yet visible
			}
		case inst.State.Up():
			mark, marked := marks[id]
			if !marked || returned != "" {
				continue
			}
			grace := max(int((spotNotice - now.Sub(mark)).Seconds()), 0)
			b.log.Warn("reclaim", "instance_id", id, "name", h.Name, "grace_period", grace)
			b.note(known[id].RequestID, id, ActionReclaim, fmt.Sprintf("%s marked for spot reclaim; %ds left", h.Name, grace))
			out = append(out, Reclaim{Name: h.Name, InstanceID: id, GracePeriod: grace})
			continue
		}
		if returned != "" {
			// Gone as HostFactory asked: reported, since it still lists the
			// host, but no reclaim, in the log, the metrics or the trail.
			b.log.Info("returned host gone", "instance_id", id, "name", h.Name, "return_id", returned)
			out = append(out, Reclaim{Name: h.Name, InstanceID: id})
			continue
		}
		b.log.Warn("reclaim", "instance_id", id, "name", h.Name, "grace_period", 0)
		gone := "no longer exists"
		if found {
			gone = "is " + string(inst.State)
		}
		b.note(known[id].RequestID, id, ActionReclaim, fmt.Sprintf("%s %s", h.Name, gone))
		out = append(out, Reclaim{Name: h.Name, InstanceID: id})
	}
	return out, nil
}

// resolveHosts gives the instance id of each host, looking up by name the
// hosts given without one ("" when unknown), and the stored machines.
func (b *Broker) resolveHosts(ctx context.Context, hosts []store.MachineRef) ([]string, map[string]store.Machine, error) {
	var withID, names []string
	for _, h := range hosts {
		if h.InstanceID != "" {
			withID = append(withID, h.InstanceID)
		} else {
			names = append(names, h.Name)
		}
	}
	known := map[string]store.Machine{}
	byName := map[string]string{}
	for _, q := range []store.MachineQuery{{InstanceIDs: withID}, {Names: names}} {
		if len(q.InstanceIDs)+len(q.Names) == 0 {
			continue
		}
		ms, err := b.store.Machines(ctx, q)
		if err != nil {
			return nil, nil, fault.Wrap(fault.Internal, err, "reading machines")
		}
		for _, m := range ms {
			known[m.InstanceID] = m
			byName[m.Name] = m.InstanceID
		}
	}
	ids := make([]string, len(hosts))
	for i, h := range hosts {
		ids[i] = h.InstanceID
		if ids[i] == "" {
			ids[i] = byName[h.Name]
		}
	}
	return ids, known, nil
}
