package dynamo_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
	"github.com/ohfp/ohfp/internal/store/dynamo"
	"github.com/ohfp/ohfp/internal/store/dynamo/dynamotest"
)

func TestInitCreatesAndChecks(t *testing.T) {
	ctx := t.Context()
	o := dynamotest.Options("init")
	db := dynamotest.Client(t)
	t.Cleanup(func() { dynamotest.Drop(t, "init") })

	report, err := dynamo.Init(ctx, o, false)
	if fault.CodeOf(err) != fault.Configuration {
		t.Fatalf("check of missing tables: err = %v, want a configuration error", err)
	}
	for _, suffix := range []string{"-requests", "-machines", "-facts", "-events"} {
		if !slices.Contains(report, "missing table "+o.TablePrefix+suffix) {
			t.Errorf("check report %q lacks table %s", report, suffix)
		}
	}

	// A site that made the machines table by hand, without indexes or TTL.
	machines := o.TablePrefix + "-machines"
	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            &machines,
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("instance_id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("instance_id"), AttributeType: types.ScalarAttributeTypeS}},
	})
	if err != nil {
		t.Fatalf("create bare machines table: %v", err)
	}
	report, err = dynamo.Init(ctx, o, false)
	if err == nil {
		t.Fatal("check of a bare machines table passed")
	}
	for _, want := range []string{
		"missing index alive on table " + machines,
		"missing index by-request on table " + machines,
		"TTL on " + machines + ".expires_at not enabled",
	} {
		if !slices.Contains(report, want) {
			t.Errorf("check report %q lacks %q", report, want)
		}
	}

	report, err = dynamo.Init(ctx, o, true)
	if err != nil {
		t.Fatalf("Init(create): %v (report %q)", err, report)
	}
	for _, want := range []string{
		"created table " + o.TablePrefix + "-requests with 2 indexes",
		"created index alive on table " + machines,
		"enabled TTL on " + machines + ".expires_at",
		"created table " + o.TablePrefix + "-events with 1 indexes",
		"enabled TTL on " + o.TablePrefix + "-events.expires_at",
	} {
		if !slices.Contains(report, want) {
			t.Errorf("create report %q lacks %q", report, want)
		}
	}

	report, err = dynamo.Init(ctx, o, false)
	if err != nil {
		t.Fatalf("check after create: %v (report %q)", err, report)
	}
	if len(report) != 4 || !strings.HasSuffix(report[0], "is ready") {
		t.Errorf("check report after create = %q, want four ready tables", report)
	}
	for _, table := range []string{o.TablePrefix + "-requests", machines, o.TablePrefix + "-events"} {
		ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatalf("describe TTL of %s: %v", table, err)
		}
		if d := ttl.TimeToLiveDescription; aws.ToString(d.AttributeName) != "expires_at" || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
			t.Errorf("TTL of %s = %s on %q, want ENABLED on expires_at", table, d.TimeToLiveStatus, aws.ToString(d.AttributeName))
		}
	}
}

func TestFinishedItemsExpire(t *testing.T) {
	ctx := t.Context()
	st := dynamotest.Open(t, "expiry")
	prefix := dynamotest.Options("expiry").TablePrefix
	db := dynamotest.Client(t)
	expiresAt := func(table, key, id string) (int64, bool) {
		t.Helper()
		res, err := db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(prefix + table),
			Key:       map[string]types.AttributeValue{key: &types.AttributeValueMemberS{Value: id}},
		})
		if err != nil {
			t.Fatalf("get %s %s: %v", table, id, err)
		}
		v, ok := res.Item["expires_at"].(*types.AttributeValueMemberN)
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			t.Fatalf("expires_at %q: %v", v.Value, err)
		}
		return n, true
	}

	r := &store.Request{ID: "req-1", Kind: store.KindCreate, TemplateID: "t", Outstanding: 2, State: store.StateRunning}
	if err := st.CreateRequest(ctx, r, []store.Limit{store.TemplateLimit("t", -1)}); err != nil {
		t.Fatal(err)
	}
	if _, ok := expiresAt("-requests", "id", r.ID); ok {
		t.Error("a running request carries expires_at")
	}
	alive := store.Machine{InstanceID: "i-alive", RequestID: r.ID, TemplateID: "t", State: "running", Result: store.ResultSucceed}
	dead := store.Machine{InstanceID: "i-dead", RequestID: r.ID, TemplateID: "t", State: "terminated", Result: store.ResultFail,
		UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r.State, r.Outstanding = store.StateComplete, 0
	if err := st.UpdateRequest(ctx, r, alive, dead); err != nil {
		t.Fatal(err)
	}
	if _, ok := expiresAt("-requests", "id", r.ID); ok {
		t.Error("a finished request holding an alive machine carries expires_at")
	}
	if _, ok := expiresAt("-machines", "instance_id", alive.InstanceID); ok {
		t.Error("an alive machine carries expires_at")
	}
	got, ok := expiresAt("-machines", "instance_id", dead.InstanceID)
	if want := dead.UpdatedAt.Add(dynamo.DefaultRetention).Unix(); !ok || got != want {
		t.Errorf("dead machine expires_at = %d (present %v), want %d", got, ok, want)
	}

	// Returning the last alive machine releases the create request; the
	// return request, finished with only dead machines, expires too.
	ret := &store.Request{ID: "ret-1", Kind: store.KindReturn, State: store.StatePending,
		Machines: []store.MachineRef{{InstanceID: alive.InstanceID}}}
	if err := st.CreateRequest(ctx, ret, nil); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(dynamo.DefaultRetention).Unix()
	alive.ReturnID, alive.State = ret.ID, "terminated"
	ret.State = store.StateComplete
	if err := st.UpdateRequest(ctx, ret, alive); err != nil {
		t.Fatal(err)
	}
	after := time.Now().Add(dynamo.DefaultRetention).Unix()
	if got, ok := expiresAt("-requests", "id", r.ID); !ok || got < before || got > after {
		t.Errorf("released request expires_at = %d (present %v), want now + retention in [%d, %d]", got, ok, before, after)
	}
	got, ok = expiresAt("-requests", "id", ret.ID)
	if want := ret.UpdatedAt.Add(dynamo.DefaultRetention).Unix(); !ok || got != want {
		t.Errorf("finished return request expires_at = %d (present %v), want %d", got, ok, want)
	}
	// Expiry is invisible through the Store: the request reads as before.
	if got, err := st.GetRequests(ctx, []string{r.ID}); err != nil || len(got) != 1 || got[0].Version != r.Version {
		t.Errorf("released request reads back as %+v, %v; want version %d", got, err, r.Version)
	}
}

// TestReadCalls holds reads of many machines to one call per 100 machines.
func TestReadCalls(t *testing.T) {
	ctx := t.Context()
	st := dynamotest.Open(t, "calls")
	var requestIDs, instanceIDs []string
	var ms []store.Machine
	for i := range 10 {
		r := &store.Request{ID: fmt.Sprintf("req-%d", i), Kind: store.KindCreate, TemplateID: "t", State: store.StateComplete}
		if err := st.CreateRequest(ctx, r, []store.Limit{store.TemplateLimit("t", -1)}); err != nil {
			t.Fatal(err)
		}
		requestIDs = append(requestIDs, r.ID)
		for j := range 100 {
			id := fmt.Sprintf("i-%02d%03d", i, j)
			instanceIDs = append(instanceIDs, id)
			ms = append(ms, store.Machine{
				InstanceID: id, RequestID: r.ID, TemplateID: "t", Name: "ip-" + id,
				PrivateIP: "10.0.0.1", State: "running", Result: store.ResultSucceed, InstanceType: "m5.large",
				LaunchTime: time.Unix(1_700_000_000+int64(j), 0),
			})
		}
	}
	if err := st.SaveMachines(ctx, ms); err != nil {
		t.Fatal(err)
	}
	for _, q := range []store.MachineQuery{{RequestIDs: requestIDs}, {InstanceIDs: instanceIDs}} {
		before := st.Calls()
		got, err := st.Machines(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		calls := st.Calls() - before
		t.Logf("1000 machines by %s: %d calls", queryKind(q), calls)
		if len(got) != 1000 {
			t.Fatalf("read %d machines, want 1000", len(got))
		}
		if calls > 10 {
			t.Errorf("reading 1000 machines by %s took %d calls, want <= 10", queryKind(q), calls)
		}
	}
	before := st.Calls()
	if got, err := st.GetRequests(ctx, requestIDs); err != nil || len(got) != 10 {
		t.Fatalf("GetRequests = %d, %v", len(got), err)
	}
	if calls := st.Calls() - before; calls != 1 {
		t.Errorf("GetRequests of 10 ids took %d calls, want 1", calls)
	}
}

func queryKind(q store.MachineQuery) string {
	if len(q.RequestIDs) > 0 {
		return "request"
	}
	return "instance id"
}

// TestUpdateManyMachines crosses the 100 items of one transaction.
func TestUpdateManyMachines(t *testing.T) {
	ctx := t.Context()
	st := dynamotest.Open(t, "many")
	r := &store.Request{ID: "req-1", Kind: store.KindCreate, TemplateID: "t", Outstanding: 250, State: store.StatePending}
	if err := st.CreateRequest(ctx, r, []store.Limit{store.TemplateLimit("t", 250)}); err != nil {
		t.Fatal(err)
	}
	stale := *r
	var ms []store.Machine
	for i := range 250 {
		ms = append(ms, store.Machine{InstanceID: fmt.Sprintf("i-%03d", i), RequestID: r.ID, TemplateID: "t", State: "pending", Result: store.ResultExecuting})
	}
	r.State, r.Outstanding = store.StateRunning, 0
	if err := st.UpdateRequest(ctx, r, ms...); err != nil {
		t.Fatal(err)
	}
	got, err := st.Machines(ctx, store.MachineQuery{RequestIDs: []string{r.ID}})
	if err != nil || len(got) != 250 {
		t.Fatalf("machines after update = %d, %v; want 250", len(got), err)
	}
	held, err := st.Held(ctx, []string{"template:t"})
	if err != nil || held["template:t"] != 250 {
		t.Errorf("Held = %v, %v; want template:t 250", held, err)
	}

	for i := range ms {
		ms[i].InstanceID = "i-stale-" + ms[i].InstanceID
	}
	if err := st.UpdateRequest(ctx, &stale, ms...); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update with 250 machines = %v, want ErrConflict", err)
	}
	got, err = st.Machines(ctx, store.MachineQuery{RequestIDs: []string{r.ID}})
	if err != nil || len(got) != 250 {
		t.Errorf("machines after a stale update = %d, %v; want the 250 first", len(got), err)
	}
}

// setCounter writes a counter as a bug, an edit or a lagging index would
// leave it: held and the time of its last change.
func setCounter(t *testing.T, prefix, key string, held int, changed time.Time) {
	t.Helper()
	_, err := dynamotest.Client(t).UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName:        aws.String(dynamotest.Options(prefix).TablePrefix + "-facts"),
		Key:              map[string]types.AttributeValue{"key": &types.AttributeValueMemberS{Value: "counter#" + key}},
		UpdateExpression: aws.String("SET held = :h, changed = :c ADD version :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":h":   &types.AttributeValueMemberN{Value: strconv.Itoa(held)},
			":c":   &types.AttributeValueMemberN{Value: strconv.FormatInt(changed.UnixNano(), 10)},
			":one": &types.AttributeValueMemberN{Value: "1"},
		},
	})
	if err != nil {
		t.Fatalf("set counter %s: %v", key, err)
	}
}

// TestAdmissionReadsTheCounter: what decides a limit is the counter, not
// what the indexes show, so a request another host admitted a moment ago
// (not in any index yet) counts at once.
func TestAdmissionReadsTheCounter(t *testing.T) {
	ctx := t.Context()
	st := dynamotest.Open(t, "counter")
	limit := []store.Limit{store.TemplateLimit("t", 10)}
	if err := st.CreateRequest(ctx, &store.Request{ID: "a", Kind: store.KindCreate, TemplateID: "t", Outstanding: 3, State: store.StatePending}, limit); err != nil {
		t.Fatal(err)
	}
	setCounter(t, "counter", "template:t", 3+5, time.Now()) // 5 held by items no index shows
	err := st.CreateRequest(ctx, &store.Request{ID: "b", Kind: store.KindCreate, TemplateID: "t", Outstanding: 3, State: store.StatePending}, limit)
	var ce *store.CapacityError
	if !errors.As(err, &ce) || ce.Held != 8 || ce.Max != 10 || ce.Need != 3 || ce.Key != "template:t" {
		t.Fatalf("8 held + 3 within 10: err = %v, want a CapacityError holding 8", err)
	}
	if err := st.CreateRequest(ctx, &store.Request{ID: "c", Kind: store.KindCreate, TemplateID: "t", Outstanding: 2, State: store.StatePending}, limit); err != nil {
		t.Fatalf("8 held + 2 within 10: %v", err)
	}
	if held, err := st.Held(ctx, []string{"template:t"}); err != nil || held["template:t"] != 10 {
		t.Errorf("Held = %v, %v; want 10", held, err)
	}
}

// TestRecountIsConservative: a counter below its items is raised at once;
// one above is lowered only after it settled, since until then an index may
// not show an item it counts.
func TestRecountIsConservative(t *testing.T) {
	ctx := t.Context()
	st := dynamotest.Open(t, "recount")
	keys := []string{"template:t"}
	r := &store.Request{ID: "a", Kind: store.KindCreate, TemplateID: "t", Outstanding: 1, State: store.StatePending}
	if err := st.CreateRequest(ctx, r, []store.Limit{store.TemplateLimit("t", 10)}); err != nil {
		t.Fatal(err)
	}
	r.State, r.Outstanding = store.StateRunning, 0
	if err := st.UpdateRequest(ctx, r, store.Machine{InstanceID: "i-1", RequestID: "a", TemplateID: "t", State: "running"}); err != nil {
		t.Fatal(err)
	}
	recount := func(want store.Drift, drifts int) {
		t.Helper()
		got, err := st.Recount(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != drifts || drifts > 0 && got[0] != want {
			t.Errorf("Recount = %+v, want %d drift(s) like %+v", got, drifts, want)
		}
	}
	recount(store.Drift{}, 0)

	setCounter(t, "recount", "template:t", 0, time.Now())
	recount(store.Drift{Key: "template:t", Counter: 0, Counted: 1, Corrected: true}, 1)
	recount(store.Drift{}, 0)

	setCounter(t, "recount", "template:t", 4, time.Now())
	recount(store.Drift{Key: "template:t", Counter: 4, Counted: 1, Corrected: false}, 1)
	setCounter(t, "recount", "template:t", 4, time.Now().Add(-time.Hour))
	recount(store.Drift{Key: "template:t", Counter: 4, Counted: 1, Corrected: true}, 1)
	if held, err := st.Held(ctx, keys); err != nil || held["template:t"] != 1 {
		t.Errorf("Held after recount = %v, %v; want 1", held, err)
	}
}

// TestCountersSeedFromItems: a store written before counters existed (no
// counter items, no limit keys) starts its counters from its items.
func TestCountersSeedFromItems(t *testing.T) {
	ctx := t.Context()
	st := dynamotest.Open(t, "seed")
	prefix := dynamotest.Options("seed").TablePrefix
	db := dynamotest.Client(t)
	put := func(table string, it map[string]types.AttributeValue) {
		t.Helper()
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(prefix + table), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v int) types.AttributeValue { return &types.AttributeValueMemberN{Value: strconv.Itoa(v)} }
	put("-requests", map[string]types.AttributeValue{"id": s("old"), "kind": s("create"), "template_id": s("t"),
		"state": s("running"), "outstanding": n(2), "version": n(1), "created_key": s("00000000000000000001#old")})
	put("-machines", map[string]types.AttributeValue{"instance_id": s("i-old"), "request_id": s("old"), "template_id": s("t"),
		"state": s("running"), "alive": s("1"), "alive_key": s("t#i-old"), "launch_key": s("00000000000000000001#i-old")})
	if held, err := st.Held(ctx, []string{"template:t"}); err != nil || held["template:t"] != 3 {
		t.Fatalf("Held of a store without counters = %v, %v; want 3", held, err)
	}
	err := st.CreateRequest(ctx, &store.Request{ID: "new", Kind: store.KindCreate, TemplateID: "t", Outstanding: 2, State: store.StatePending},
		[]store.Limit{store.TemplateLimit("t", 4)})
	if !errors.Is(err, store.ErrCapacity) {
		t.Errorf("3 held + 2 within 4: err = %v, want ErrCapacity", err)
	}
}

// TestOpenWithAWSConfig opens a store with the provider's SDK configuration
// instead of the default chain.
func TestOpenWithAWSConfig(t *testing.T) {
	ctx := t.Context()
	first := dynamotest.Open(t, "sdkconfig")
	if err := first.PutFact(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	o := dynamotest.Options("sdkconfig")
	o.AWSConfig = &aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("other", "secret", ""),
	}
	st, err := dynamo.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := st.Fact(ctx, "k"); err != nil || !ok || string(v) != "v" {
		t.Errorf("Fact through an explicit SDK config = %q, %v, %v", v, ok, err)
	}
}

// TestTablesOnFirstUse: with AutoCreate the first operation on an account
// without tables creates them and goes on; without, it is a configuration
// error that names the command creating them.
func TestTablesOnFirstUse(t *testing.T) {
	ctx := t.Context()
	o := dynamotest.Options("firstuse")
	t.Cleanup(func() { dynamotest.Drop(t, "firstuse") })
	o.InitCommand = "HF_PROVIDER_NAME=awsinst ohfp store init"
	st, err := dynamo.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	r := &store.Request{ID: "a", Kind: store.KindCreate, TemplateID: "t", Outstanding: 1, State: store.StatePending}
	err = st.CreateRequest(ctx, r, []store.Limit{store.TemplateLimit("t", 5)})
	if fault.CodeOf(err) != fault.Configuration || !strings.Contains(err.Error(), "`HF_PROVIDER_NAME=awsinst ohfp store init`") {
		t.Fatalf("first use without tables nor auto-create: %v; want a configuration error naming the init command", err)
	}

	o.AutoCreate = true
	st, err = dynamo.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for i := range 4 { // processes racing to create the same tables
		go func() {
			r := &store.Request{ID: fmt.Sprint(i), Kind: store.KindCreate, TemplateID: "t", Outstanding: 1, State: store.StatePending}
			errs <- st.CreateRequest(ctx, r, []store.Limit{store.TemplateLimit("t", 5)})
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("first use with auto-create: %v", err)
		}
	}
	if report, err := dynamo.Init(ctx, o, false); err != nil {
		t.Errorf("tables created on first use do not check: %v %q", err, report)
	}
	if held, err := st.Held(ctx, []string{"template:t"}); err != nil || held["template:t"] != 4 {
		t.Errorf("Held = %v, %v; want 4", held, err)
	}
}

// TestInitRefusesForeignTables: a table of the same name with other keys is
// not ohfp's, and neither init nor a check touches it.
func TestInitRefusesForeignTables(t *testing.T) {
	ctx := t.Context()
	o := dynamotest.Options("foreign")
	t.Cleanup(func() { dynamotest.Drop(t, "foreign") })
	_, err := dynamotest.Client(t).CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(o.TablePrefix + "-facts"),
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, create := range []bool{false, true} {
		_, err := dynamo.Init(ctx, o, create)
		if fault.CodeOf(err) != fault.Configuration || !strings.Contains(err.Error(), "not an ohfp table") {
			t.Errorf("Init(create %v) over a foreign facts table: %v", create, err)
		}
	}
}

// TestInitWithoutTTL: on an endpoint that describes TTL (as off) but has
// no UpdateTimeToLive, store init reports it and sets up the rest, and the
// check after it (doctor's) passes: the purge pass deletes what TTL would.
func TestInitWithoutTTL(t *testing.T) {
	ctx := t.Context()
	o := dynamotest.Options("nottl")
	t.Cleanup(func() { dynamotest.Drop(t, "nottl") })
	target, err := url.Parse(o.EndpointURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".UpdateTimeToLive") {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#UnknownOperationException"}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	o.EndpointURL = srv.URL

	report, err := dynamo.Init(ctx, o, true)
	if err != nil {
		t.Fatalf("init: %v %q", err, report)
	}
	if !slices.ContainsFunc(report, func(l string) bool {
		return strings.Contains(l, "TTL on "+o.TablePrefix+"-requests: this endpoint does not implement it (UnknownOperationException)")
	}) {
		t.Errorf("init report %q does not say TTL is missing", report)
	}
	if report, err := dynamo.Init(ctx, o, false); err != nil {
		t.Errorf("check after init: %v %q", err, report)
	}
}

// TestInitBackup: with Backup, init turns point-in-time recovery on and the
// check fails until it is, or both say the endpoint has no such thing.
func TestInitBackup(t *testing.T) {
	ctx := t.Context()
	o := dynamotest.Options("backup")
	t.Cleanup(func() { dynamotest.Drop(t, "backup") })
	if _, err := dynamo.Init(ctx, o, true); err != nil {
		t.Fatal(err)
	}
	o.Backup = true
	report, err := dynamo.Init(ctx, o, false)
	unsupported := slices.ContainsFunc(report, func(l string) bool { return strings.Contains(l, "does not implement") })
	if !unsupported && !errors.Is(err, dynamo.ErrMissing) {
		t.Fatalf("check of tables without recovery: %v %q", err, report)
	}
	report, err = dynamo.Init(ctx, o, true)
	if err != nil {
		t.Fatal(err)
	}
	if !unsupported && !slices.Contains(report, "enabled point-in-time recovery of "+o.TablePrefix+"-requests") {
		t.Errorf("init report %q does not enable recovery", report)
	}
	t.Logf("%q", report)
	if report, err := dynamo.Init(ctx, o, false); err != nil {
		t.Errorf("check after init: %v %q", err, report)
	}
}
