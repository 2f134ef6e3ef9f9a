package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
)

// TemplateInfo is a template as HostFactory sees it: its attributes complete
// and the machines still available.
type TemplateInfo struct {
	config.Template
	// Available is maxNumber minus the machines held, lowered to Headroom;
	// -1 when unlimited.
	Available int
	// Headroom is how many more machines the policies that apply to every
	// caller of the template allow; -1 when none limits it.
	Headroom int
	// LSF is what IBM's LSF plugins echo of a template besides
	// HostFactory's fields; nil unless LSF asks.
	LSF *LSFTemplate
}

// LSFTemplate is the template's own fields as IBM's LSF plugins echo them
// in getAvailableTemplates, in the templates file's spelling.
type LSFTemplate struct {
	InstanceTags string // k=v;k2=v2
	UserData     string // k=v;k2=v2
}

func lsfTemplate(t config.Template) *LSFTemplate {
	tags := make([]string, len(t.InstanceTags))
	for i, tg := range t.InstanceTags {
		tags[i] = tg.Key + "=" + tg.Value
	}
	return &LSFTemplate{InstanceTags: strings.Join(tags, ";"), UserData: t.UserData}
}

// Templates lists the configured templates with their attributes derived
// from the instance type where the template gives none. Templates left out
// for breaking a rule are logged, one ERROR line each.
func (b *Broker) Templates(ctx context.Context) ([]TemplateInfo, error) {
	for _, r := range b.cfg.Rejected {
		b.log.Error("template left out: it breaks a rule", "template_id", r.ID, "file", r.Err.Details["file"],
			"field", r.Err.Details["field"], "err", r.Err.Message)
	}
	usage, err := b.Usage(ctx)
	if err != nil {
		return nil, err
	}
	derived := b.derivedAttributes()
	facts, err := b.typeFacts(ctx, b.cfg.Templates, &derived)
	if err != nil {
		return nil, err
	}
	out := make([]TemplateInfo, len(b.cfg.Templates))
	for i, t := range b.cfg.Templates {
		t.Attributes = completeAttributes(t, facts, derived)
		avail := -1
		if t.MaxNumber >= 0 {
			avail = max(t.MaxNumber-usage[t.ID], 0)
		}
		room, err := b.templateHeadroom(ctx, t)
		if err != nil {
			return nil, err
		}
		if room >= 0 && (avail < 0 || room < avail) {
			avail = room
		}
		out[i] = TemplateInfo{Template: t, Available: avail, Headroom: room}
		if b.cfg.LSF() {
			out[i].LSF = lsfTemplate(t)
		}
	}
	return out, nil
}

// templateHeadroom is headroom with the vCPUs of t counted only when a
// policy needs them.
func (b *Broker) templateHeadroom(ctx context.Context, t config.Template) (int, error) {
	vcpus := 1
	for _, p := range b.cfg.Policies {
		if p.MaxVCPUs >= 0 && p.Universal(t.ID, b.cfg.ProviderName) {
			var err error
			if vcpus, err = b.vcpus(ctx, t); err != nil {
				return 0, err
			}
			break
		}
	}
	return b.headroom(ctx, t, vcpus)
}

// derived names the attributes the broker fills in from the instance type
// when a template does not give them.
type derived struct {
	memory string // the memory in MiB: Symphony's nram, LSF's mem
}

// derivedAttributes are those of the scheduler that asks: LSF's templates
// say a host's memory as mem, never nram (docs/lsf.md).
func (b *Broker) derivedAttributes() derived {
	if b.cfg.LSF() {
		return derived{memory: "mem"}
	}
	return derived{memory: "nram"}
}

func (d derived) names() []string { return []string{"type", "ncpus", "ncores", d.memory} }

func needsFacts(t config.Template, d derived) bool {
	for _, k := range d.names() {
		if _, ok := t.Attributes[k]; !ok {
			return true
		}
	}
	return false
}

// sizingType is the instance type whose size HostFactory is told: the
// template's one type, or the smallest of its weighted types, so that a host
// never offers less than promised.
func sizingType(t config.Template, facts map[string]cloud.TypeFacts) string {
	if t.VMType != "" {
		return t.VMType
	}
	names := make([]string, 0, len(t.VMTypes))
	for n := range t.VMTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	best := ""
	for _, n := range names {
		f, ok := facts[n]
		if !ok {
			continue
		}
		if b, ok := facts[best]; best == "" || !ok || f.VCPUs < b.VCPUs || (f.VCPUs == b.VCPUs && f.MemoryMiB < b.MemoryMiB) {
			best = n
		}
	}
	if best == "" && len(names) > 0 {
		best = names[0]
	}
	return best
}

func typesOf(t config.Template) []string {
	if t.VMType != "" {
		return []string{t.VMType}
	}
	names := make([]string, 0, len(t.VMTypes))
	for n := range t.VMTypes {
		names = append(names, n)
	}
	return names
}

const factPrefix = "itype:"

// typeFacts gathers the facts of every instance type the templates need
// (all their types when d is nil, else those of templates missing one of
// d's attributes), from the store's cache first and from the cloud (once,
// batched) for the rest.
func (b *Broker) typeFacts(ctx context.Context, templates []config.Template, d *derived) (map[string]cloud.TypeFacts, error) {
	facts := map[string]cloud.TypeFacts{}
	var missing []string
	for _, t := range templates {
		if d != nil && !needsFacts(t, *d) {
			continue
		}
		for _, name := range typesOf(t) {
			if _, done := facts[name]; done || slices.Contains(missing, name) {
				continue
			}
			raw, ok, err := b.facts.Fact(ctx, factPrefix+name)
			if err != nil {
				return nil, fault.Wrap(fault.Internal, err, "reading cached facts of %s", name)
			}
			var f cloud.TypeFacts
			if ok && json.Unmarshal(raw, &f) == nil && f.Known() {
				facts[name] = f
				continue
			}
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return facts, nil
	}
	found, err := b.cloud.InstanceTypes(ctx, missing)
	if err != nil {
		return nil, fault.Wrap("", err, "describing instance types %s", strings.Join(missing, ", "))
	}
	for name, f := range found {
		if !f.Known() {
			continue
		}
		facts[name] = f
		raw, _ := json.Marshal(f)
		if err := b.facts.PutFact(ctx, factPrefix+name, raw); err != nil {
			b.log.Warn("caching instance type facts", "type", name, "err", err)
		}
	}
	return facts, nil
}

// completeAttributes returns the template's attributes, every one kept,
// with type, ncpus, ncores and the memory (d) filled in from its instance
// type where absent.
func completeAttributes(t config.Template, facts map[string]cloud.TypeFacts, d derived) map[string]config.Attribute {
	attrs := make(map[string]config.Attribute, len(t.Attributes)+len(d.names()))
	for k, v := range t.Attributes {
		attrs[k] = v
	}
	f, known := facts[sizingType(t, facts)]
	set := func(key, kind, value string) {
		if _, ok := attrs[key]; !ok {
			attrs[key] = config.Attribute{Kind: kind, Value: value}
		}
	}
	if known {
		set("type", "String", archName(f.Arch))
		set("ncpus", "Numeric", strconv.Itoa(f.VCPUs))
		set("ncores", "Numeric", strconv.Itoa(max(f.Cores, 1)))
		set(d.memory, "Numeric", strconv.FormatInt(f.MemoryMiB, 10))
	}
	// HostFactory requires these three; a type unknown to the cloud still
	// yields a usable template.
	set("type", "String", "X86_64")
	set("ncpus", "Numeric", "1")
	set(d.memory, "Numeric", "1024")
	return attrs
}

func archName(arch string) string {
	switch arch {
	case "arm64":
		return "ARM64"
	case "", "x86_64":
		return "X86_64"
	default:
		return strings.ToUpper(arch)
	}
}

// template finds a template or says which exist.
func (b *Broker) template(id string) (config.Template, error) {
	if err, bad := b.cfg.Rejection(id); bad {
		return config.Template{}, err
	}
	t, ok := b.cfg.Template(id)
	if !ok {
		return t, fault.New(fault.TemplateNotFound, "Template '%s' not found", id).
			With("available_templates", b.cfg.TemplateIDs())
	}
	return t, nil
}

// templateOf reads the snapshot a request was made with, so that edits to
// the templates file never change a request already placed.
func templateOf(raw []byte) (config.Template, error) {
	var t config.Template
	if err := json.Unmarshal(raw, &t); err != nil {
		return t, fmt.Errorf("reading the template snapshot: %w", err)
	}
	return t, nil
}
