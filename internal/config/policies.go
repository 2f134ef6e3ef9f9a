package config

import (
	"errors"
	"fmt"
	pathpkg "path"
	"path/filepath"
	"slices"

	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/policy"
)

// PoliciesFileName is the policies file looked for in the conf folder: LSF's
// policy_config.json format, under a name of ohfp's own so that a copy of
// LSF's file is applied only where an administrator put it.
const PoliciesFileName = "policies.json"

// readPolicies reads the admission policies: the file OHFP_POLICIES_FILE
// names, else the policies section of a YAML config (section), else, except
// under LSF, policies.json in the conf folder. Under LSF, LSF's own daemon
// applies policy_config.json before it calls the plugin, so ohfp applies
// none unless told to, or every limit would count twice.
func (c *Config) readPolicies(cs source, section field) error {
	if err := c.findPolicies(cs, section); err != nil {
		return err
	}
	return c.checkPolicies()
}

func (c *Config) findPolicies(cs source, section field) error {
	given := !absent(section)
	switch {
	case c.PoliciesFile != "" && given:
		return cs.errorf("policies", "is given twice: in this file and in %s (OHFP_POLICIES_FILE); keep one", c.PoliciesFile)
	case given:
		return c.readPolicyList(cs, field{path: "policies", raw: section.raw})
	case c.PoliciesFile != "":
		c.PoliciesFile = under(c.ConfDir, c.PoliciesFile, "")
		found, data, err := readFirst([]string{c.PoliciesFile})
		if err != nil {
			return err
		}
		if found == "" {
			return cs.errorf("OHFP_POLICIES_FILE", "names %s, which does not exist", c.PoliciesFile)
		}
		return c.readPolicyFile(found, data)
	}
	found, data, err := readFirst([]string{filepath.Join(c.ConfDir, PoliciesFileName)})
	if err != nil || found == "" {
		return err
	}
	if c.LSF() {
		c.Ignored = append(c.Ignored, PoliciesFileName+": not applied under LSF, which applies its own policy_config.json (set OHFP_POLICIES_FILE to apply it here too)")
		return nil
	}
	return c.readPolicyFile(found, data)
}

// readPolicyFile reads a file in LSF's policy_config.json format.
func (c *Config) readPolicyFile(file string, data []byte) error {
	c.PoliciesFile = file
	s := source{path: file, ignored: &c.Ignored}
	ms, err := s.parseJSON(data)
	if err != nil {
		return err
	}
	if m, twice := repeated(ms); twice {
		return s.errorf(m.name(), "is given twice").With("field", m.name())
	}
	for _, m := range ms {
		switch m.key() {
		case "Policies":
			if err := c.readPolicyList(s, m); err != nil {
				return err
			}
		case "UserDefinedScriptPath", "Optimizations":
			// LSF's own: its daemon runs the script and applies the
			// optimizations when it computes demand.
			if !absent(m) {
				s.ignore(m.name() + " (LSF's resource policy plug-in runs it; ohfp does not)")
			}
		default:
			return s.errorf(m.name(), "unknown key; a policies file has Policies (and LSF's UserDefinedScriptPath, Optimizations)")
		}
	}
	return nil
}

// readPolicyList reads a list of policies, from a file or a YAML section.
func (c *Config) readPolicyList(s source, f field) error {
	if c.PoliciesFile == "" {
		c.PoliciesFile = s.path
	}
	es, ok := elements(f.raw)
	if !ok {
		if absent(f) {
			return nil
		}
		return s.invalid(f, errors.New("must be a list of policies"))
	}
	for i, e := range es {
		p, err := readPolicy(s, fmt.Sprintf("%s[%d]", f.name(), i), e)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(c.Policies, func(q policy.Policy) bool { return q.Name == p.Name }) {
			return policyError(s, p.Name, fmt.Sprintf("%s[%d].Name", f.name(), i), "names a policy already defined; each policy needs a name of its own")
		}
		c.Policies = append(c.Policies, p)
	}
	return nil
}

// policyError is the CONFIGURATION_ERROR of one field of a policy, naming
// the file, the policy and the field.
func policyError(s source, name, fieldName, format string, args ...any) *fault.Error {
	label := fieldName
	if name != "" {
		label = fmt.Sprintf("%s (policy %q)", fieldName, name)
	}
	return s.errorf(label, format, args...).With("field", fieldName).With("policy", name)
}

// repeated is the first member of ms whose key an earlier member has: of
// two, the last would silently win, turning a MaxNumber of 3 into 300 or
// widening a consumer.
func repeated(ms []field) (field, bool) {
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		if seen[m.key()] {
			return m, true
		}
		seen[m.key()] = true
	}
	return field{}, false
}

// consumerKeys are the attributes a Consumer may give, by dimension; the
// per* ones give each listed value the policy's limits to itself.
var consumerKeys = map[string]struct {
	dim policy.Dimension
	per bool
}{
	"rcAccount": {policy.DimAccount, false}, "templateName": {policy.DimTemplate, false},
	"provider": {policy.DimProvider, false}, "user": {policy.DimUser, false},
	"perRcAccount": {policy.DimAccount, true}, "perTemplateName": {policy.DimTemplate, true},
	"perProvider": {policy.DimProvider, true}, "perUser": {policy.DimUser, true},
}

// readPolicy reads one policy object named at.
func readPolicy(s source, at string, raw []byte) (policy.Policy, error) {
	p := policy.Policy{MaxNumber: -1, MaxVCPUs: -1}
	ms, ok := members(raw, at)
	if !ok {
		return p, s.errorf(at, "must be an object with Name, Consumer, MaxNumber, StepValue, MaxVCPUs")
	}
	if m, twice := repeated(ms); twice && m.key() == "Name" {
		return p, policyError(s, "", m.name(), "is given twice")
	}
	for _, m := range ms {
		if m.key() == "Name" {
			name, err := m.text()
			if err != nil || name == "" {
				return p, s.invalid(m, errors.New("must be a non-empty string"))
			}
			p.Name = name
		}
	}
	if p.Name == "" {
		return p, policyError(s, "", at+".Name", "is required")
	}
	if m, twice := repeated(ms); twice {
		return p, policyError(s, p.Name, m.name(), "is given twice")
	}
	bad := func(m field, err error) error {
		return policyError(s, p.Name, m.name(), "%v, got %s", err, m.shown())
	}
	for _, m := range ms {
		var err error
		switch m.key() {
		case "Name", "MaxNumber", "MaxVCPUs", "StepValue":
			if absent(m) {
				// A value left blank, as a template variable that was
				// never set, would otherwise mean no limit at all.
				return p, policyError(s, p.Name, m.name(), "has no value; leave the key out for no limit")
			}
		}
		switch m.key() {
		case "Name":
		case "MaxNumber", "MaxVCPUs":
			n, err := m.intWhere(func(n int) bool { return n >= 0 }, "must be a whole number of 0 or more")
			if err != nil {
				return p, bad(m, err)
			}
			if m.key() == "MaxNumber" {
				p.MaxNumber = n
			} else {
				p.MaxVCPUs = n
			}
		case "StepValue":
			var v string
			if v, err = m.text(); err == nil {
				p.Step, err = policy.ParseStep(v)
			}
		case "Consumer":
			p.Consumer, err = readConsumer(s, p.Name, m)
			if err != nil {
				return p, err
			}
		default:
			return p, policyError(s, p.Name, m.name(), "unknown key; a policy has Name, Consumer, MaxNumber, StepValue and MaxVCPUs")
		}
		if err != nil {
			return p, bad(m, err)
		}
	}
	return p, nil
}

func readConsumer(s source, name string, f field) (policy.Consumer, error) {
	c := policy.Consumer{Match: map[policy.Dimension][]string{}, Per: map[policy.Dimension][]string{}}
	if absent(f) {
		return c, nil
	}
	ms, ok := members(f.raw, f.name())
	if !ok {
		return c, policyError(s, name, f.name(), "must be an object with rcAccount, templateName, provider, user")
	}
	if m, twice := repeated(ms); twice {
		return c, policyError(s, name, m.name(), "is given twice")
	}
	for _, m := range ms {
		k, ok := consumerKeys[m.key()]
		if !ok {
			return c, policyError(s, name, m.name(), "unknown key; a Consumer has rcAccount, templateName, provider, user and their per* forms")
		}
		vs, err := m.list()
		if err != nil {
			return c, policyError(s, name, m.name(), "%v, got %s", err, m.shown())
		}
		for _, v := range vs {
			if _, err := pathpkg.Match(v, ""); err != nil {
				return c, policyError(s, name, m.name(), "%q is not a valid pattern", v)
			}
			if k.per && v == policy.All {
				return c, policyError(s, name, m.name(), "cannot be \"all\": it lists the values that each get the limits to themselves")
			}
		}
		if k.per {
			c.Per[k.dim] = vs
		} else {
			c.Match[k.dim] = vs
		}
	}
	return c, nil
}

// checkPolicies refuses a policy of this provider whose templateName names
// no template: a typo would otherwise limit nothing, silently.
func (c *Config) checkPolicies() error {
	ids := c.TemplateIDs()
	for _, r := range c.Rejected {
		if r.ID != "" {
			ids = append(ids, r.ID)
		}
	}
	s := source{path: c.PoliciesFile}
	for _, p := range c.Policies {
		if !p.Concerns(c.ProviderName) {
			continue
		}
		for _, pattern := range p.Consumer.Match[policy.DimTemplate] {
			if pattern == policy.All {
				continue
			}
			one := policy.Policy{Consumer: policy.Consumer{Match: map[policy.Dimension][]string{policy.DimTemplate: {pattern}}}}
			if len(one.Templates(ids)) == 0 {
				return policyError(s, p.Name, "Consumer.templateName", "%q matches no template of provider %s (templates: %v)", pattern, c.ProviderName, ids)
			}
		}
	}
	return nil
}
