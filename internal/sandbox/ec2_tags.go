package sandbox

import (
	"net/http"
	"strconv"
	"strings"
)

const maxTagsPerResource = 50

// checkTags applies EC2's rules for user tags.
func checkTags(tags []tag) error {
	for _, t := range tags {
		switch {
		case t.Key == "" || len(t.Key) > 128:
			return badParam("Tag key must be between 1 and 128 characters.")
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return badParam("Tag keys starting with 'aws:' are reserved for internal use")
		case len(t.Value) > 256:
			return badParam("Tag value must be at most 256 characters.")
		}
	}
	return checkTagCount(tags)
}

// checkTagCount applies EC2's limit of tags per resource, which the aws:
// tags AWS itself adds (e.g. aws:ec2:fleet-id) do not count toward.
func checkTagCount(tags []tag) error {
	n := 0
	for _, t := range tags {
		if !strings.HasPrefix(t.Key, "aws:") {
			n++
		}
	}
	if n > maxTagsPerResource {
		return apiErrorf(http.StatusBadRequest, "TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
	}
	return nil
}

// tagged is something tags can be put on.
type tagged interface{ tagList() *[]tag }

func (in *instance) tagList() *[]tag { return &in.tags }

// spotRequest is the spot request side of a spot instance.
type spotRequest struct{ *instance }

func (r spotRequest) tagList() *[]tag { return &r.spotTags }

// resources finds what CreateTags/DeleteTags name, failing like EC2 on any
// unknown id. Caller holds s.mu.
func (s *Sandbox) resources(c *call) ([]tagged, error) {
	ids := c.form.list("ResourceId")
	if len(ids) == 0 {
		return nil, apiErrorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter resourceIdSet")
	}
	var out []tagged
	var instanceIDs []string
	for _, id := range ids {
		switch {
		case strings.HasPrefix(id, "i-"):
			instanceIDs = append(instanceIDs, id)
		case strings.HasPrefix(id, "sir-"):
			in := s.world.bySpotID[id]
			if in == nil {
				return nil, badParamCode("InvalidSpotInstanceRequestID.NotFound", "The spot instance request ID '%s' does not exist", id)
			}
			out = append(out, spotRequest{in})
		default:
			return nil, badParamCode("InvalidID", "The ID '%s' is not valid", id)
		}
	}
	found, err := s.lookup(instanceIDs, c.now)
	if err != nil {
		return nil, err
	}
	for _, in := range found {
		out = append(out, in)
	}
	return out, nil
}

func (s *Sandbox) createTags(c *call) error {
	add := c.form.tags("Tag")
	if err := checkTags(add); err != nil {
		return err
	}
	defer s.update()()
	targets, err := s.resources(c)
	if err != nil {
		return err
	}
	merged := make([][]tag, len(targets))
	for i, r := range targets {
		// Copy on write: a snapshot taken under RLock may still read the old slice.
		tags := append([]tag(nil), *r.tagList()...)
		for _, t := range add {
			tags = setTag(tags, t)
		}
		if err := checkTagCount(tags); err != nil {
			return err
		}
		merged[i] = tags
	}
	for i, r := range targets {
		*r.tagList() = merged[i]
	}
	ec2Reply(c, func(x xmlw) { x.bool("return", true) })
	return nil
}

func setTag(tags []tag, t tag) []tag {
	for i := range tags {
		if tags[i].Key == t.Key {
			tags[i].Value = t.Value
			return tags
		}
	}
	return append(tags, t)
}

func (s *Sandbox) deleteTags(c *call) error {
	n := c.form.count("Tag", "Key")
	defer s.update()()
	targets, err := s.resources(c)
	if err != nil {
		return err
	}
	for _, r := range targets {
		var kept []tag
		if n > 0 {
			for _, t := range *r.tagList() {
				if !deleted(c.form, n, t) {
					kept = append(kept, t)
				}
			}
		}
		*r.tagList() = kept
	}
	ec2Reply(c, func(x xmlw) { x.bool("return", true) })
	return nil
}

// deleted tells whether DeleteTags' Tag.N list names t: by key, and by
// value too when the value is given.
func deleted(p params, n int, t tag) bool {
	for i := range n {
		base := "Tag." + strconv.Itoa(i+1)
		if p.get(base+".Key") == t.Key && (!p.has(base+".Value") || p.get(base+".Value") == t.Value) {
			return true
		}
	}
	return false
}
