package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/store"
)

// Rows makes one record of each item.
func Rows[T any](items []T, row func(T) Record) []Record {
	out := make([]Record, len(items))
	for i, it := range items {
		out[i] = row(it)
	}
	return out
}

// TemplateRow is a template as `templates list` shows it.
func TemplateRow(t broker.TemplateInfo) Record {
	return Record{
		{"template_id", t.ID},
		{"max_number", t.MaxNumber},
		{"available_number", t.Available},
		{"policy_headroom", orNone(t.Headroom)},
		{"provider_api", t.Template.API()},
		{"price_type", t.PriceType},
		{"vm_type", vmTypes(t)},
		{"image_id", t.ImageID},
	}
}

// TemplateDetail is every field of a template. User data is shown as its
// size only: it may carry secrets, and screens get shared.
func TemplateDetail(t broker.TemplateInfo) Record {
	r := TemplateRow(t)
	r = append(r, Record{
		{"priority", t.Priority},
		{"fleet_type", t.FleetType},
		{"attributes", t.Attributes},
		{"vm_types", t.VMTypes},
		{"subnet_ids", t.SubnetIDs},
		{"security_group_ids", t.SecurityGroupIDs},
		{"key_name", t.KeyName},
		{"instance_profile", t.InstanceProfile},
		{"launch_template_id", t.LaunchTemplateID},
		{"instance_tags", t.InstanceTags},
		{"allocation_strategy", t.AllocationStrategy},
		{"percent_on_demand", t.PercentOnDemand},
		{"max_spot_price", t.MaxSpotPrice},
		{"user_data", redacted(t.UserData)},
		{"user_data_script", t.UserDataScript},
	}...)
	return r
}

func vmTypes(t broker.TemplateInfo) string {
	if t.VMType != "" {
		return t.VMType
	}
	return strings.Join(slices.Sorted(maps.Keys(t.VMTypes)), ",")
}

func redacted(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf("(%d bytes, not shown)", len(s))
}

// RequestRow is a stored request as `requests list` shows it.
func RequestRow(r store.Request) Record {
	return Record{
		{"request_id", r.ID},
		{"kind", string(r.Kind)},
		{"template_id", r.TemplateID},
		{"machine_count", r.MachineCount},
		{"status", string(r.State)}, // as REST and getRequestStatus name it
		{"created_at", r.CreatedAt},
		{"updated_at", r.UpdatedAt},
		{"message", r.Message},
	}
}

// RequestDetail is a request with its status and machines as the cloud
// has them now (broker.Refresh).
func RequestDetail(r store.Request, st broker.RequestStatus) Record {
	row := RequestRow(r)
	for i := range row {
		switch row[i].Key {
		case "status":
			row[i].Value = string(st.Status)
		case "message":
			row[i].Value = st.Message
		}
	}
	machines := make([]Record, len(st.Machines))
	for i, m := range st.Machines {
		machines[i] = machineRecord(m.Machine, m.Result)
	}
	return append(row, Field{"machines", machines})
}

// MachineRow is a stored machine as `machines list` shows it.
func MachineRow(m store.Machine) Record {
	return machineRecord(m, m.Result)
}

func machineRecord(m store.Machine, result store.Result) Record {
	return Record{
		{"machine_id", m.InstanceID},
		{"name", m.Name},
		{"template_id", m.TemplateID},
		{"request_id", m.RequestID},
		{"result", result},
		{"status", m.State},
		{"seen_at", m.UpdatedAt},
		{"private_ip_address", m.PrivateIP},
		{"public_ip_address", m.PublicIP},
		{"instance_type", m.InstanceType},
		{"price_type", m.PriceType},
		{"launch_time", m.LaunchTime},
		{"return_id", m.ReturnID},
		{"message", m.Message},
	}
}

// ReconcileRecord is what a reconcile pass found: how many instances it
// checked and did what with, and each instance the store did not know,
// with why, and for one left waiting how long until a pass would
// terminate it.
func ReconcileRecord(rec broker.Reconciliation) Record {
	strays := Rows(rec.Strays, func(s broker.Stray) Record {
		var in any
		if s.Action == broker.StrayWaiting && s.TerminateIn > 0 {
			in = s.TerminateIn
		}
		return Record{
			{"instance_id", s.InstanceID},
			{"request_id", s.RequestID},
			{"action", s.Action},
			{"terminate_in", in},
			{"reason", s.Reason},
		}
	})
	return Record{
		{"checked", rec.Checked},
		{"adopted", len(rec.Adopted)},
		{"terminated", len(rec.Terminated)},
		{"waiting", len(rec.Waiting)},
		{"budget", rec.Budget},
		{"kept", len(rec.OverBudget)},
		{"other_installations", rec.Installations},
		{"their_instances", rec.Elsewhere},
		{"untagged", rec.Untagged},
		{"claimed", rec.Claimed},
		{"dry_run", rec.DryRun},
		{"instances", strays},
	}
}
