package dynamo

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/store"
)

type item = map[string]types.AttributeValue

// aliveFlag is the value of the alive index's partition key.
const aliveFlag = "1"

// Index names; doc.go describes them.
const (
	idxState    = "by-state"
	idxTemplate = "by-template"
	idxRequest  = "by-request"
	idxReturn   = "by-return"
	idxName     = "by-name"
	idxAlive    = "alive"
)

// Key prefixes in the facts table.
const (
	factPrefix    = "fact#"
	counterPrefix = "counter#"
	windowPrefix  = "window#"
)

func requestItem(r *store.Request, retention time.Duration) (item, error) {
	it := item{
		"id":            attrS(r.ID),
		"kind":          attrS(string(r.Kind)),
		"state":         attrS(string(r.State)),
		"machine_count": attrN(int64(r.MachineCount)),
		"outstanding":   attrN(int64(r.Outstanding)),
		"created":       attrN(nanos(r.CreatedAt)),
		"updated":       attrN(nanos(r.UpdatedAt)),
		"created_key":   attrS(sortKey(r.CreatedAt, r.ID)),
		"version":       attrN(r.Version),
	}
	setS(it, "template_id", r.TemplateID)
	setB(it, "template", r.Template)
	setS(it, "rc_account", r.RCAccount)
	setB(it, "user_data", r.UserData)
	setS(it, "client_token", r.ClientToken)
	setS(it, "cloud_ref", r.CloudRef)
	setS(it, "message", r.Message)
	setKeys(it, encodeKeys(r.LimitKeys, r.LimitWeights))
	if len(r.Tags) > 0 {
		tags, err := json.Marshal(r.Tags)
		if err != nil {
			return nil, fmt.Errorf("request %s: encode tags: %w", r.ID, err)
		}
		it["tags"] = attrS(string(tags))
	}
	if len(r.Machines) > 0 {
		refs, err := json.Marshal(r.Machines)
		if err != nil {
			return nil, fmt.Errorf("request %s: encode machines: %w", r.ID, err)
		}
		it["machines"] = attrS(string(refs))
	}
	if r.State.Finished() {
		it[ttlAttribute] = attrN(expiry(r.UpdatedAt, retention))
	}
	return it, nil
}

// requestOptional are the request attributes that an empty value leaves
// out, so an update must remove them.
var requestOptional = []string{
	"template_id", "template", "rc_account", "user_data", "client_token",
	"cloud_ref", "message", "machines", "tags", "expires_at",
}

// requestUpdate is the update expression that turns a stored request into
// item it, leaving its key and creation time as stored; its placeholders
// are #a0, :a0, #a1, :a1, ...
func requestUpdate(it item) (expr string, names map[string]string, values item) {
	names, values = map[string]string{}, item{}
	var set, remove []string
	for _, k := range slices.Sorted(maps.Keys(it)) {
		switch k {
		case "id", "created", "created_key", limitKeysAttr: // set once, by CreateRequest
			continue
		}
		ph := fmt.Sprintf("a%d", len(names))
		names["#"+ph] = k
		values[":"+ph] = it[k]
		set = append(set, fmt.Sprintf("#%s = :%s", ph, ph))
	}
	for _, k := range requestOptional {
		if _, ok := it[k]; !ok {
			ph := fmt.Sprintf("a%d", len(names))
			names["#"+ph] = k
			remove = append(remove, "#"+ph)
		}
	}
	expr = "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	return expr, names, values
}

func decodeRequest(it item) (store.Request, error) {
	r := store.Request{
		ID:           str(it, "id"),
		Kind:         store.Kind(str(it, "kind")),
		TemplateID:   str(it, "template_id"),
		Template:     bin(it, "template"),
		MachineCount: int(num(it, "machine_count")),
		Outstanding:  int(num(it, "outstanding")),
		RCAccount:    str(it, "rc_account"),
		UserData:     bin(it, "user_data"),
		ClientToken:  str(it, "client_token"),
		CloudRef:     str(it, "cloud_ref"),
		State:        store.State(str(it, "state")),
		Message:      str(it, "message"),
		CreatedAt:    fromNanos(num(it, "created")),
		UpdatedAt:    fromNanos(num(it, "updated")),
		Version:      num(it, "version"),
	}
	r.LimitKeys, r.LimitWeights = decodeKeys(keysOf(it))
	if tags := str(it, "tags"); tags != "" {
		if err := json.Unmarshal([]byte(tags), &r.Tags); err != nil {
			return r, fmt.Errorf("request %s: decode tags: %w", r.ID, err)
		}
	}
	if refs := str(it, "machines"); refs != "" {
		if err := json.Unmarshal([]byte(refs), &r.Machines); err != nil {
			return r, fmt.Errorf("request %s: decode machines: %w", r.ID, err)
		}
	}
	return r, nil
}

func machineItem(m *store.Machine, retention time.Duration) item {
	it := item{
		"instance_id": attrS(m.InstanceID),
		"launch":      attrN(nanos(m.LaunchTime)),
		"updated":     attrN(nanos(m.UpdatedAt)),
		"launch_key":  attrS(sortKey(m.LaunchTime, m.InstanceID)),
	}
	setS(it, "request_id", m.RequestID)
	setS(it, "return_id", m.ReturnID)
	setS(it, "template_id", m.TemplateID)
	setS(it, "name", m.Name)
	setS(it, "private_ip", m.PrivateIP)
	setS(it, "public_ip", m.PublicIP)
	setS(it, "state", string(m.State))
	setS(it, "result", string(m.Result))
	setS(it, "message", m.Message)
	setS(it, "instance_type", m.InstanceType)
	setS(it, "price_type", m.PriceType)
	setS(it, "public_dns", m.PublicDNS)
	if m.Cores > 0 {
		it["cores"] = attrN(int64(m.Cores))
	}
	if m.Threads > 0 {
		it["threads"] = attrN(int64(m.Threads))
	}
	if !m.ListedAt.IsZero() {
		it["listed"] = attrN(nanos(m.ListedAt))
	}
	if m.Alive() {
		it["alive"] = attrS(aliveFlag)
		it["alive_key"] = attrS(aliveKey(m.TemplateID, m.InstanceID))
	} else {
		it[ttlAttribute] = attrN(expiry(m.UpdatedAt, retention))
	}
	return it
}

func decodeMachine(it item) store.Machine {
	return store.Machine{
		InstanceID:   str(it, "instance_id"),
		RequestID:    str(it, "request_id"),
		ReturnID:     str(it, "return_id"),
		TemplateID:   str(it, "template_id"),
		Name:         str(it, "name"),
		PrivateIP:    str(it, "private_ip"),
		PublicIP:     str(it, "public_ip"),
		State:        cloud.State(str(it, "state")),
		Result:       store.Result(str(it, "result")),
		Message:      str(it, "message"),
		InstanceType: str(it, "instance_type"),
		PriceType:    str(it, "price_type"),
		PublicDNS:    str(it, "public_dns"),
		Cores:        int(num(it, "cores")),
		Threads:      int(num(it, "threads")),
		ListedAt:     fromNanos(num(it, "listed")),
		LaunchTime:   fromNanos(num(it, "launch")),
		UpdatedAt:    fromNanos(num(it, "updated")),
	}
}

// expiry is the TTL epoch of an item last updated at t (now when unknown).
func expiry(t time.Time, retention time.Duration) int64 {
	if t.IsZero() {
		t = time.Now()
	}
	return t.Add(retention).Unix()
}

// aliveKey sorts a template's alive machines together. Instance ids hold no
// '#', so the template is everything before the last one.
func aliveKey(templateID, instanceID string) string { return templateID + "#" + instanceID }

func aliveKeyTemplate(key string) string {
	if i := strings.LastIndexByte(key, '#'); i >= 0 {
		return key[:i]
	}
	return key
}

// sortKey orders items by time, then id.
func sortKey(t time.Time, id string) string { return fmt.Sprintf("%020d#%s", nanos(t), id) }

// nanos stores a time as Unix nanoseconds; the zero time is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos, in UTC.
func fromNanos(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

func attrS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func attrN(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// setS and setB leave empty values out: DynamoDB refuses empty key
// attributes, and absent ones keep the indexes sparse.
func setS(it item, k, v string) {
	if v != "" {
		it[k] = attrS(v)
	}
}

func setB(it item, k string, v []byte) {
	if len(v) > 0 {
		it[k] = &types.AttributeValueMemberB{Value: v}
	}
}

func str(it item, k string) string {
	if v, ok := it[k].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func num(it item, k string) int64 {
	if v, ok := it[k].(*types.AttributeValueMemberN); ok {
		i, _ := strconv.ParseInt(v.Value, 10, 64)
		return i
	}
	return 0
}

func bin(it item, k string) []byte {
	if v, ok := it[k].(*types.AttributeValueMemberB); ok && len(v.Value) > 0 {
		return v.Value
	}
	return nil
}
