package sandbox

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Decoding of query-protocol parameters (EC2 and Auto Scaling flatten lists
// as Name.1, Name.2, ... and structures as Name.1.Member).

// list is the flattened list prefix.1, prefix.2, ...
func (p params) list(prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		k := prefix + "." + strconv.Itoa(i)
		if !p.has(k) {
			return out
		}
		out = append(out, p.get(k))
	}
}

// count is how many structures prefix.1, prefix.2, ... carry member.
func (p params) count(prefix, member string) int {
	n := 0
	for p.has(prefix + "." + strconv.Itoa(n+1) + "." + member) {
		n++
	}
	return n
}

func (p params) boolean(key string) bool { return p.get(key) == "true" }

// integer is key's value, or def when absent.
func (p params) integer(key string, def int) (int, error) {
	if !p.has(key) {
		return def, nil
	}
	n, err := strconv.Atoi(p.get(key))
	if err != nil {
		return 0, badParam("Invalid value '%s' for %s.", p.get(key), key)
	}
	return n, nil
}

type tag struct{ Key, Value string }

// tags are the Key/Value pairs prefix.N.Key, prefix.N.Value.
func (p params) tags(prefix string) []tag {
	n := p.count(prefix, "Key")
	out := make([]tag, n)
	for i := range n {
		base := prefix + "." + strconv.Itoa(i+1)
		out[i] = tag{p.get(base + ".Key"), p.get(base + ".Value")}
	}
	return out
}

// EC2's filter limits.
const (
	maxFilterValues   = 200
	maxFilterValueLen = 255
)

// filter is one Filter.N: a name and the values any of which may match.
type filter struct {
	name   string
	values []string
	exact  map[string]bool // values without wildcards, for big id lists
	wild   []string
}

// filters are the Filter.N of a request, with EC2's limits applied.
func (p params) filters() ([]filter, error) {
	n := p.count("Filter", "Name")
	out := make([]filter, n)
	total := 0
	for i := range n {
		base := "Filter." + strconv.Itoa(i+1)
		f := filter{name: p.get(base + ".Name"), values: p.list(base + ".Value"), exact: map[string]bool{}}
		total += len(f.values)
		for _, v := range f.values {
			if len(v) > maxFilterValueLen {
				return nil, apiErrorf(http.StatusBadRequest, "FilterLimitExceeded", "The maximum length for a filter value is %d characters", maxFilterValueLen)
			}
			if strings.ContainsAny(v, "*?") {
				f.wild = append(f.wild, v)
			} else {
				f.exact[v] = true
			}
		}
		out[i] = f
	}
	if total > maxFilterValues {
		return nil, apiErrorf(http.StatusBadRequest, "FilterLimitExceeded", "The maximum number of filter values specified on a single call is %d", maxFilterValues)
	}
	return out, nil
}

// match tells whether v matches any of the filter's values.
func (f *filter) match(v string) bool {
	if f.exact[v] {
		return true
	}
	for _, w := range f.wild {
		if wildcard(w, v) {
			return true
		}
	}
	return false
}

// wildcard matches s against pattern with EC2's * and ? (no escapes).
func wildcard(pattern, s string) bool {
	star, back := -1, 0
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(pattern) && (pattern[i] == '?' || pattern[i] == s[j]):
			i++
			j++
		case i < len(pattern) && pattern[i] == '*':
			star, back = i, j
			i++
		case star >= 0:
			back++
			i, j = star+1, back
		default:
			return false
		}
	}
	for i < len(pattern) && pattern[i] == '*' {
		i++
	}
	return i == len(pattern)
}

func isTagFilter(name string) bool {
	return strings.HasPrefix(name, "tag:") || name == "tag-key" || name == "tag-value"
}

// matchTags applies a tag filter (tag:<key>, tag-key or tag-value).
func (f *filter) matchTags(tags []tag) bool {
	key, byKey := strings.CutPrefix(f.name, "tag:")
	for _, t := range tags {
		switch {
		case byKey && t.Key == key && f.match(t.Value),
			f.name == "tag-key" && f.match(t.Key),
			f.name == "tag-value" && f.match(t.Value):
			return true
		}
	}
	return false
}

// xmlw writes XML answers straight into a buffer, without reflection.
type xmlw struct{ b *bytes.Buffer }

func (x xmlw) open(name string) {
	x.b.WriteByte('<')
	x.b.WriteString(name)
	x.b.WriteByte('>')
}

func (x xmlw) close(name string) {
	x.b.WriteString("</")
	x.b.WriteString(name)
	x.b.WriteByte('>')
}

// str writes <name>v</name>, or nothing when v is empty: the SDK reads a
// missing element as nil, which is what EC2 means by leaving it out.
func (x xmlw) str(name, v string) {
	if v == "" {
		return
	}
	x.open(name)
	x.text(v)
	x.close(name)
}

func (x xmlw) int(name string, v int64) {
	x.open(name)
	x.b.WriteString(strconv.FormatInt(v, 10))
	x.close(name)
}

func (x xmlw) float(name string, v float64) {
	x.open(name)
	x.b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	x.close(name)
}

func (x xmlw) bool(name string, v bool) {
	x.open(name)
	x.b.WriteString(strconv.FormatBool(v))
	x.close(name)
}

// time writes t as ISO 8601 UTC with milliseconds, like EC2; zero is left out.
func (x xmlw) time(name string, t time.Time) {
	if t.IsZero() {
		return
	}
	x.open(name)
	x.b.Write(t.UTC().AppendFormat(x.b.AvailableBuffer(), "2006-01-02T15:04:05.000Z"))
	x.close(name)
}

// items writes <name><item>v</item>...</name>, EC2's lists.
func (x xmlw) items(name string, vs []string) { x.list(name, "item", vs) }

// members writes <name><member>v</member>...</name>, the awsquery lists.
func (x xmlw) members(name string, vs []string) { x.list(name, "member", vs) }

func (x xmlw) list(name, element string, vs []string) {
	x.open(name)
	for _, v := range vs {
		x.open(element)
		x.text(v)
		x.close(element)
	}
	x.close(name)
}

func (x xmlw) tagSet(tags []tag) {
	if len(tags) == 0 {
		return
	}
	x.open("tagSet")
	for _, t := range tags {
		x.open("item")
		x.str("key", t.Key)
		x.open("value")
		x.text(t.Value)
		x.close("value")
		x.close("item")
	}
	x.close("tagSet")
}

// text writes s escaped for XML character data.
func (x xmlw) text(s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '&':
			esc = "&amp;"
		case '"':
			esc = "&quot;"
		case '\'':
			esc = "&apos;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		x.b.WriteString(s[last:i])
		x.b.WriteString(esc)
		last = i + 1
	}
	x.b.WriteString(s[last:])
}

// field reads the value a filter name tests on a resource of type T.
type field[T any] func(s *Sandbox, v T, now time.Time) string

// predicate tells whether a resource matches one filter.
type predicate[T any] func(s *Sandbox, v T, now time.Time) bool

// predicates turns the call's Filter.N into predicates over fields, plus
// the tag filters when tags is not nil; unknown names fail like EC2.
func predicates[T any](c *call, fields map[string]field[T], tags func(T) []tag) ([]predicate[T], error) {
	fs, err := c.form.filters()
	if err != nil {
		return nil, err
	}
	out := make([]predicate[T], len(fs))
	for i := range fs {
		f := &fs[i]
		if get, ok := fields[f.name]; ok {
			out[i] = func(s *Sandbox, v T, now time.Time) bool { return f.match(get(s, v, now)) }
			continue
		}
		if tags == nil || !isTagFilter(f.name) {
			return nil, badParam("The filter '%s' is invalid", f.name)
		}
		out[i] = func(_ *Sandbox, v T, _ time.Time) bool { return f.matchTags(tags(v)) }
	}
	return out, nil
}

// matchAll tells whether v passes every predicate.
func matchAll[T any](s *Sandbox, preds []predicate[T], v T, now time.Time) bool {
	for _, p := range preds {
		if !p(s, v, now) {
			return false
		}
	}
	return true
}
