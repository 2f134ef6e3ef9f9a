package broker

import (
	"slices"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/cloud/fake"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/lsf"
)

// underLSF sets the harness's configuration as LSF's environment does.
func underLSF(c *config.Config) {
	c.Scheduler = config.SchedulerLSF
	c.ClusterName = "cluster1"
}

// TestLaunchCarriesLSFAccountAndExports checks what a launch hands the
// cloud: the request's rc_account always (it becomes the RC_ACCOUNT tag),
// and under LSF the variables LSF's user_data.sh reads, in IBM's order.
func TestLaunchCarriesLSFAccountAndExports(t *testing.T) {
	cases := []struct {
		name    string
		lsf     bool
		account string
		exports []lsf.Export
	}{
		{"LSF", true, "proj-a", []lsf.Export{{Name: "rc_account", Value: "proj-a"}, {Name: "template_id", Value: "T"}, {Name: "clustername", Value: "cluster1"}, {Name: "providerName", Value: provider}}},
		{"LSF without an account", true, "", []lsf.Export{{Name: "template_id", Value: "T"}, {Name: "clustername", Value: "cluster1"}, {Name: "providerName", Value: provider}}},
		{"Symphony", false, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var edits []func(*config.Config)
			if tc.lsf {
				edits = append(edits, underLSF)
			}
			h := newHarness(t, edits...)
			if _, err := h.b.RequestMachines(h.ctx(), MachineRequest{TemplateID: "T", Count: 1, RCAccount: tc.account}); err != nil {
				t.Fatal(err)
			}
			calls := h.cloud.Calls(fake.Launch)
			if len(calls) != 1 {
				t.Fatalf("%d launches", len(calls))
			}
			spec := calls[0].Spec
			if spec.RCAccount != tc.account || !slices.Equal(spec.Exports, tc.exports) {
				t.Errorf("account %q, exports %v; want %q, %v", spec.RCAccount, spec.Exports, tc.account, tc.exports)
			}
		})
	}
}

// TestStatusCarriesWhatLSFReads: under LSF each machine of a create request
// carries the request's rc_account, the cores and threads the cloud
// describes, and its life cycle; under Symphony none of it.
func TestStatusCarriesWhatLSFReads(t *testing.T) {
	for _, tc := range []struct {
		name string
		lsf  bool
		tmpl string
		want *LSFMachine
	}{
		{"LSF on demand", true, "T", &LSFMachine{RCAccount: "proj-a", Cores: 1, Threads: 2, LifeCycle: LifeCycleOnDemand}},
		{"LSF spot", true, "Spot", &LSFMachine{RCAccount: "proj-a", Cores: 1, Threads: 2, LifeCycle: LifeCycleSpot}},
		{"Symphony", false, "T", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var edits []func(*config.Config)
			if tc.lsf {
				edits = append(edits, underLSF)
			}
			h := newHarness(t, edits...)
			h.cloud.Types["t3.micro"] = cloud.TypeFacts{Name: "t3.micro", VCPUs: 2, Cores: 1}
			g, err := h.b.RequestMachines(h.ctx(), MachineRequest{TemplateID: tc.tmpl, Count: 1, RCAccount: "proj-a"})
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range h.instances(g.ID) {
				in, _ := h.cloud.Instance(i)
				in.State, in.Spot = cloud.Running, tc.tmpl == "Spot"
				h.cloud.Add(in)
			}
			st := h.status(g.ID)
			if len(st.Machines) != 1 {
				t.Fatalf("machines %+v", st.Machines)
			}
			got := st.Machines[0].LSF
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Errorf("LSF fields %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestTemplatesAsLSFReadsThem: under LSF the memory is derived as mem,
// never nram; every attribute the site wrote is kept, and instanceTags and
// userData are echoed as IBM's LSF plugins echo them. Symphony's
// templates keep nram and echo neither.
func TestTemplatesAsLSFReadsThem(t *testing.T) {
	site := map[string]config.Attribute{"awshost": {Kind: "Boolean", Value: "1"}, "zone": {Kind: "String", Value: "us_east_1a"}}
	for _, tc := range []struct {
		name        string
		lsf         bool
		given       map[string]config.Attribute
		want        map[string]string // attribute -> value
		absent      string
		tags, udata string
	}{
		{"LSF derives mem", true, site, map[string]string{"type": "X86_64", "ncpus": "2", "ncores": "1", "mem": "1024", "awshost": "1", "zone": "us_east_1a"}, "nram", "group=project1;team=hpc", "zone=us_east_1a"},
		{"LSF keeps the site's mem", true, map[string]config.Attribute{"mem": {Kind: "Numeric", Value: "900"}}, map[string]string{"mem": "900", "ncpus": "2"}, "nram", "group=project1;team=hpc", "zone=us_east_1a"},
		{"Symphony derives nram", false, site, map[string]string{"type": "X86_64", "ncpus": "2", "ncores": "1", "nram": "1024", "awshost": "1"}, "mem", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edits := []func(*config.Config){func(c *config.Config) {
				c.Templates[0].Attributes = tc.given
				c.Templates[0].InstanceTags = []config.Tag{{Key: "group", Value: "project1"}, {Key: "team", Value: "hpc"}}
				c.Templates[0].UserData = "zone=us_east_1a"
			}}
			if tc.lsf {
				edits = append(edits, underLSF)
			}
			h := newHarness(t, edits...)
			h.cloud.Types["t3.micro"] = cloud.TypeFacts{Name: "t3.micro", VCPUs: 2, Cores: 1, MemoryMiB: 1024, Arch: "x86_64"}
			ts, err := h.b.Templates(h.ctx())
			if err != nil {
				t.Fatal(err)
			}
			got := ts[0]
			for k, v := range tc.want {
				if got.Attributes[k].Value != v {
					t.Errorf("%s = %q, want %q (attributes %v)", k, got.Attributes[k].Value, v, got.Attributes)
				}
			}
			if _, ok := got.Attributes[tc.absent]; ok {
				t.Errorf("%s present: %v", tc.absent, got.Attributes)
			}
			var tags, udata string
			if got.LSF != nil {
				tags, udata = got.LSF.InstanceTags, got.LSF.UserData
			}
			if tags != tc.tags || udata != tc.udata {
				t.Errorf("echoed instanceTags %q, userData %q; want %q, %q", tags, udata, tc.tags, tc.udata)
			}
		})
	}
}

// TestUserDataAtRest: the store keeps the keys of LSF's userData object,
// never its values, which may be secrets; anything but an object keeps
// nothing.
func TestUserDataAtRest(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"password":"s3cret","zone":"a"}`, `{"password":"` + config.NotStored + `","zone":"` + config.NotStored + `"}`},
		{`{}`, `{}`},
		{``, ``},
		{`null`, ``},
		{`["s3cret"]`, ``},
		{`"s3cret"`, ``},
		{`{"password":`, ``},
	} {
		if got := string(userDataAtRest([]byte(c.in))); got != c.want {
			t.Errorf("%s kept as %s, want %s", c.in, got, c.want)
		}
	}
	h := newHarness(t)
	g, err := h.b.RequestMachines(h.ctx(), MachineRequest{TemplateID: "T", Count: 1, UserData: []byte(`{"password":"s3cret"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if r := h.stored(g.ID); strings.Contains(string(r.UserData), "s3cret") || !strings.Contains(string(r.UserData), "password") {
		t.Errorf("stored user data %s", r.UserData)
	}
}
