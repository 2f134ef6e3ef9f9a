package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The benchmarks below weigh the hand-written parts of loading against the
// libraries they stand in for, at the OHFP guides' scale of 1,000
// templates, on what every HostFactory call pays. Run them with
//
//	go test -run '^$' -bench . -benchmem ./internal/config
//
// On the 2-core development machine (2026-12-01, shared, 5 runs each; a
// templates call of 1,000 templates takes about 17 ms as a whole process):
//
//	split, hand-written            2.0-4.2 ms    0.22 MB   12,422 allocs
//	split, encoding/json ordered    24-38 ms     4.7 MB   149,718 allocs
//	split, encoding/json maps      6.4-9.3 ms    2.3 MB    60,740 allocs
//	YAML parsed every call          30-52 ms    10.2 MB   212,107 allocs
//	YAML from the cache            0.5-0.7 ms    0.3 MB         9 allocs
//
// So the hand-written JSON layer stays: encoding/json would add 20 ms or
// more to each call when it keeps the members' order (which the first
// error reported and the duplicate checks rely on), and 5 ms when it does
// not. The YAML cache stays: it saves 30 ms or more per call.

// BenchmarkSplit1000Templates compares the hand-written JSON layer
// (validJSON, then members and elements slicing the checked text) with
// encoding/json doing the same job: check the document and hand every
// template's fields to the readers as raw values, in order, named by
// their path for error messages (templates[2].maxNumber).
func BenchmarkSplit1000Templates(b *testing.B) {
	data := []byte(templatesFile(1000))
	count := func(b *testing.B, n int) {
		if n != 10662 {
			b.Fatalf("%d fields", n)
		}
	}
	b.Run("hand-written", func(b *testing.B) {
		for b.Loop() {
			count(b, handSplit(b, data))
		}
	})
	b.Run("encoding-json-ordered", func(b *testing.B) {
		for b.Loop() {
			count(b, stdSplit(b, data))
		}
	})
	b.Run("encoding-json-maps", func(b *testing.B) {
		for b.Loop() {
			count(b, mapSplit(b, data))
		}
	})
}

// handSplit is what Load does with a templates file before the readers.
func handSplit(b *testing.B, data []byte) int {
	if ok, _ := validJSON(data); !ok {
		b.Fatal("invalid")
	}
	top, _ := members(data, "")
	es, _ := elements(top[0].raw)
	n := 0
	var ms []field
	for i, e := range es {
		ms, _ = appendMembers(ms[:0], e, fmt.Sprintf("templates[%d]", i))
		n += fieldsOf(ms)
	}
	return n
}

// stdSplit does it with encoding/json, keeping the members' order (which
// the readers' first error and duplicate checks depend on): the decoder's
// tokens give the keys, and its offsets the raw values.
func stdSplit(b *testing.B, data []byte) int {
	if !json.Valid(data) {
		b.Fatal("invalid")
	}
	var top struct {
		Templates []json.RawMessage `json:"templates"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		b.Fatal(err)
	}
	n := 0
	var ms []field
	for i, e := range top.Templates {
		ms = stdMembers(b, ms[:0], e, fmt.Sprintf("templates[%d]", i))
		n += fieldsOf(ms)
	}
	return n
}

func stdMembers(b *testing.B, ms []field, raw []byte, path string) []field {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		b.Fatal(err)
	}
	for dec.More() {
		from := dec.InputOffset()
		if _, err := dec.Token(); err != nil {
			b.Fatal(err)
		}
		lit := bytes.TrimLeft(raw[from:dec.InputOffset()], " \t\r\n,")
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			b.Fatal(err)
		}
		ms = append(ms, field{path: path, lit: lit, raw: v})
	}
	return ms
}

// mapSplit is the shortest encoding/json way: every template as a map of
// raw values, which loses the members' order.
func mapSplit(b *testing.B, data []byte) int {
	var top struct {
		Templates []map[string]json.RawMessage `json:"templates"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		b.Fatal(err)
	}
	n := 0
	for i, t := range top.Templates {
		path := fmt.Sprintf("templates[%d]", i)
		for k, v := range t {
			f := field{path: path, lit: []byte(`"` + k + `"`), raw: v}
			if len(f.raw) > 0 && f.key() != "" {
				n++
			}
		}
	}
	return n
}

// fieldsOf counts the fields the readers would see, touching each as they
// would (its key and value).
func fieldsOf(ms []field) int {
	n := 0
	for _, f := range ms {
		if len(f.raw) > 0 && f.key() != "" {
			n++
		}
	}
	return n
}

// BenchmarkYAML1000Templates weighs the YAML cache: a YAML config of 1,000
// templates parsed every call, against the same call finding its JSON
// rewrite in the work folder.
func BenchmarkYAML1000Templates(b *testing.B) {
	data := []byte(yamlTemplates(1000))
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := yamlToJSON(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		cache := yamlCache{dir: b.TempDir(), name: yamlCacheName, yaml: data}
		if _, err := cache.read(); err != nil {
			b.Fatal(err)
		}
		cache.settle(Caching{})
		for b.Loop() {
			again := yamlCache{dir: cache.dir, name: cache.name, yaml: data}
			if _, err := again.read(); err != nil || again.parsed {
				b.Fatal(err, again.parsed)
			}
		}
	})
	b.Run("load-cached", func(b *testing.B) {
		dir := b.TempDir()
		write(b, dir, map[string]string{"config.yml": string(data)})
		env := envOf(map[string]string{"HF_PROVIDER_CONFDIR": dir})
		for b.Loop() {
			c, err := Load(env)
			if err != nil || len(c.Templates) != 1000 {
				b.Fatal(err)
			}
		}
	})
}

// yamlTemplates is a config in the OHFP integration guide's YAML layout
// with n templates.
func yamlTemplates(n int) string {
	var sb strings.Builder
	sb.WriteString("provider: {aws: {region: us-east-1}}\ntemplates:\n")
	for i := range n {
		fmt.Fprintf(&sb, "  - template_id: t%d\n    max_number: 10\n    price_type: spot\n    attributes:\n      ncpus: [Numeric, 2]\n      nram: [Numeric, 8192]\n      vm_type: m5.large\n      image_id: ami-0abcdef1234567890\n      subnet_ids: [subnet-1, subnet-2]\n      security_group_ids: [sg-1]\n    instance_tags: {Project: symphony, Owner: grid}\n", i)
	}
	return sb.String()
}
