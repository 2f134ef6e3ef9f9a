package config

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReferenceIsCurrent fails when docs/reference.md differs from what the
// tables generate.
func TestReferenceIsCurrent(t *testing.T) {
	var want bytes.Buffer
	if err := WriteReference(&want); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/reference.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("docs/reference.md is stale: run make docs")
	}
}

// TestReferenceComplete checks that every row says what a reader needs.
func TestReferenceComplete(t *testing.T) {
	for _, s := range settings {
		if s.doc.about == "" || s.doc.example == "" || s.read.typ == "" {
			t.Errorf("setting %s %s: needs a type, an example and a description", s.key, s.path)
		}
	}
	for _, f := range templateFields {
		if f.doc.about == "" || f.doc.example == "" || f.read.typ == "" {
			t.Errorf("template field %s: needs a type, an example and a description", f.key)
		}
	}
	for _, k := range ibmKeys {
		for _, name := range strings.Split(k.key, ", ") {
			_, isKey := settingByKey[name]
			_, isField := templateFieldIndex[name]
			if isKey || isField {
				t.Errorf("%s is listed as not read, but ohfp reads it", name)
			}
		}
	}
}

// TestEnvironmentDocumented records every variable Load asks for, in
// several layouts, and checks each has a row in the environment table.
func TestEnvironmentDocumented(t *testing.T) {
	documented := map[string]bool{}
	for _, e := range environment {
		for _, n := range strings.Split(e.name, ", ") {
			documented[n] = true
		}
	}
	dir := t.TempDir()
	write(t, dir, map[string]string{"awsprov_config.json": `{"AWS_REGION": "us-east-1"}`})
	asked := map[string]bool{}
	for _, env := range []map[string]string{
		{},
		{"HF_PROVIDER_CONFDIR": dir},
		{"HF_CONFDIR": dir, "HF_WORKDIR": dir, "HF_LOGDIR": dir},
		{"HF_CONFIG_PATH": filepath.Join(dir, "awsprov_config.json")},
	} {
		_, _ = Load(func(k string) string { asked[k] = true; return env[k] })
	}
	for k := range asked {
		if !documented[k] {
			t.Errorf("Load reads %s, which the environment table does not document", k)
		}
	}
	for _, e := range environment {
		if e.readBy == "" && !asked[e.name] {
			t.Errorf("the environment table says Load reads %s, but it does not", e.name)
		}
	}
}

// TestOHFPNamesDocumented finds every OHFP_* and HF_* name in the
// product's sources and checks it is a settings key or a documented
// variable, so that a new one cannot ship undocumented.
func TestOHFPNamesDocumented(t *testing.T) {
	known := map[string]bool{}
	for _, e := range environment {
		for _, n := range strings.Split(e.name, ", ") {
			known[n] = true
		}
	}
	for k := range settingByKey {
		known[k] = true
	}
	known["HF_TOP"] = true // Symphony's install folder, named in examples; ohfp never reads it
	name := regexp.MustCompile(`\b(?:OHFP|HF)_[A-Z0-9_]*[A-Z0-9]\b`)
	var files []string
	for _, glob := range []string{"../../cmd/*/*.go", "../../internal/*/*.go", "../../internal/*/*/*.go", "../../scripts/*.sh"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.Contains(f, "test/") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range slices.Compact(slices.Sorted(slices.Values(name.FindAllString(string(src), -1)))) {
			if !known[n] {
				t.Errorf("%s names %s, which docs/reference.md does not document", f, n)
			}
		}
	}
}
