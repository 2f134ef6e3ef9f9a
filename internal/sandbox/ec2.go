package sandbox

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
)

const (
	ec2Version   = "2016-11-15"
	ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"
)

// ec2Service is EC2's Query protocol. New actions go in this map.
func ec2Service() *service {
	actions := map[string]handler{
		"RunInstances":                 (*Sandbox).runInstances,
		"DescribeInstances":            (*Sandbox).describeInstances,
		"TerminateInstances":           (*Sandbox).terminateInstances,
		"CreateTags":                   (*Sandbox).createTags,
		"DeleteTags":                   (*Sandbox).deleteTags,
		"DescribeInstanceTypes":        (*Sandbox).describeInstanceTypes,
		"DescribeImages":               (*Sandbox).describeImages,
		"DescribeSpotInstanceRequests": (*Sandbox).describeSpotInstanceRequests,
		"DescribeSpotPriceHistory":     (*Sandbox).describeSpotPriceHistory,
		"DescribeSubnets":              (*Sandbox).describeSubnets,
		"DescribeSecurityGroups":       (*Sandbox).describeSecurityGroups,
		"DescribeKeyPairs":             (*Sandbox).describeKeyPairs,
		"CreateLaunchTemplate":         (*Sandbox).createLaunchTemplate,
		"DescribeLaunchTemplates":      (*Sandbox).describeLaunchTemplates,
		"DeleteLaunchTemplate":         (*Sandbox).deleteLaunchTemplate,
		"CreateFleet":                  (*Sandbox).createFleet,
		"DescribeFleets":               (*Sandbox).describeFleets,
		"DescribeFleetInstances":       (*Sandbox).describeFleetInstances,
		"ModifyFleet":                  (*Sandbox).modifyFleet,
		"DeleteFleets":                 (*Sandbox).deleteFleets,
		"RequestSpotFleet":             (*Sandbox).requestSpotFleet,
		"DescribeSpotFleetRequests":    (*Sandbox).describeSpotFleetRequests,
		"DescribeSpotFleetInstances":   (*Sandbox).describeSpotFleetInstances,
		"ModifySpotFleetRequest":       (*Sandbox).modifySpotFleetRequest,
		"CancelSpotFleetRequests":      (*Sandbox).cancelSpotFleetRequests,
		"DescribeFleetHistory": func(s *Sandbox, c *call) error {
			return s.describeHistory(c, "FleetId", false)
		},
		"DescribeSpotFleetRequestHistory": func(s *Sandbox, c *call) error {
			return s.describeHistory(c, "SpotFleetRequestId", true)
		},
	}
	for name, h := range actions {
		actions[name] = dryRunnable(h)
	}
	return &service{
		name:        "ec2",
		contentType: "text/xml;charset=UTF-8",
		actions:     actions,
		writeError:  writeEC2Error,
	}
}

// dryRunnable answers DryRun=true calls the way EC2 does when the caller is
// allowed: with the DryRunOperation error. Denials are injected as faults,
// which run before this.
func dryRunnable(h handler) handler {
	return func(s *Sandbox, c *call) error {
		if c.form.boolean("DryRun") {
			return apiErrorf(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
		}
		return h(s, c)
	}
}

func writeEC2Error(b *bytes.Buffer, requestID string, e *apiError) {
	x := xmlw{b}
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	x.open("Response")
	x.open("Errors")
	x.open("Error")
	x.str("Code", e.Code)
	x.str("Message", e.Message)
	x.close("Error")
	x.close("Errors")
	x.str("RequestID", requestID)
	x.close("Response")
}

// ec2Reply writes the <ActionResponse> envelope around body.
func ec2Reply(c *call, body func(x xmlw)) {
	x := xmlw{c.out}
	x.b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	x.b.WriteString("<" + c.action + `Response xmlns="` + ec2Namespace + `">`)
	x.str("requestId", c.requestID)
	body(x)
	x.close(c.action + "Response")
}

// page is MaxResults/NextToken pagination over a list of known length.
// NextToken is the index of the next item, which is enough for a sandbox.
type page struct{ start, end int }

// paginate reads MaxResults (within [lo,hi], default all) and NextToken.
func paginate(c *call, n, lo, hi int) (page, error) {
	max, err := maxResults(c, lo, hi)
	if err != nil {
		return page{}, err
	}
	start, err := nextToken(c)
	if err != nil {
		return page{}, err
	}
	if start > n {
		return page{}, badParam("The token '%s' is invalid.", c.form.get("NextToken"))
	}
	end := n
	if max > 0 && start+max < n {
		end = start + max
	}
	return page{start, end}, nil
}

// maxResults is MaxResults, checked against [lo,hi]; 0 when absent.
func maxResults(c *call, lo, hi int) (int, error) {
	max, err := c.form.integer("MaxResults", 0)
	if err != nil {
		return 0, err
	}
	if c.form.has("MaxResults") && (max < lo || max > hi) {
		return 0, badParam("Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", max, lo, hi)
	}
	return max, nil
}

// nextToken is the position NextToken stands for; 0 when absent.
func nextToken(c *call) (int, error) {
	tok := c.form.get("NextToken")
	if tok == "" {
		return 0, nil
	}
	n, err := decodeToken(tok)
	if err != nil {
		return 0, badParam("The token '%s' is invalid.", tok)
	}
	return n, nil
}

// next writes nextToken when more items follow the page.
func (p page) next(x xmlw, n int) {
	if p.end < n {
		x.str("nextToken", encodeToken(p.end))
	}
}

// pick keeps the items of all whose ids are in want, in want's order;
// any unknown id fails the call with notFound(ids), like EC2. With no
// want it keeps all.
func pick[T any](all []T, id func(T) string, want []string, notFound func(ids string) error) ([]T, error) {
	if len(want) == 0 {
		return all, nil
	}
	byID := make(map[string]T, len(all))
	for _, v := range all {
		byID[id(v)] = v
	}
	out := make([]T, 0, len(want))
	var missing []string
	for _, w := range want {
		if v, ok := byID[w]; ok {
			out = append(out, v)
		} else {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		return nil, notFound(strings.Join(missing, ", "))
	}
	return out, nil
}

// describe runs the common shape of a Describe call: pick by id, filter,
// paginate (when hi > 0), and write each item inside <set>.
func describe[T any](s *Sandbox, c *call, all []T, preds []predicate[T], set string, hi int, write func(x xmlw, v T)) error {
	list := slices.DeleteFunc(slices.Clone(all), func(v T) bool { return !matchAll(s, preds, v, c.now) })
	pg := page{0, len(list)}
	if hi > 0 {
		var err error
		if pg, err = paginate(c, len(list), 5, hi); err != nil {
			return err
		}
	}
	ec2Reply(c, func(x xmlw) {
		x.open(set)
		for _, v := range list[pg.start:pg.end] {
			write(x, v)
		}
		x.close(set)
		pg.next(x, len(list))
	})
	return nil
}
