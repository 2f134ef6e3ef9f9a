// Package dynamotest gives tests a real DynamoDB engine: DynamoDB Local,
// installed and started by tools/dynamodb/start.sh, or the endpoint in
// OHFP_TEST_DYNAMODB_ENDPOINT. Tests fail, never skip, when it cannot start.
package dynamotest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ohfp/ohfp/internal/store/dynamo"
)

// EndpointEnv names an already running DynamoDB-compatible endpoint to use
// instead of starting DynamoDB Local.
const EndpointEnv = "OHFP_TEST_DYNAMODB_ENDPOINT"

// SecondEndpointEnv names an already running endpoint of the second
// implementation (Second) to use instead of starting it.
const SecondEndpointEnv = "OHFP_TEST_DYNAMODB_SECOND_ENDPOINT"

// Second is the second implementation of the DynamoDB API the concurrency
// cases run on: moto, an independent implementation in Python, with
// transactions, served one request at a time (tools/dynamodb).
const Second = "moto"

var (
	endpoint string
	// second is the endpoint of Second, started on first use.
	second = sync.OnceValues(func() (string, error) {
		if ep := os.Getenv(SecondEndpointEnv); ep != "" {
			return ep, nil
		}
		ep, stop, err := startImpl(Second)
		if err == nil {
			stops = append(stops, stop)
		}
		return ep, err
	})
	stops []func()
	// run keeps table prefixes of concurrent test processes apart on a
	// shared endpoint.
	run = func() string {
		b := make([]byte, 4)
		rand.Read(b)
		return hex.EncodeToString(b)
	}()
)

// Main runs a package's tests against DynamoDB; call it from TestMain.
func Main(m *testing.M) {
	os.Exit(main(m))
}

func main(m *testing.M) int {
	// Fixed local credentials: the default chain must find these and never
	// reach for a profile or the instance metadata service.
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "local",
		"AWS_SECRET_ACCESS_KEY":       "local",
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  "us-east-1",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		os.Setenv(k, v)
	}
	endpoint = os.Getenv(EndpointEnv)
	if endpoint == "" {
		var stop func()
		var err error
		endpoint, stop, err = startImpl("")
		if err != nil {
			fmt.Fprintf(os.Stderr, "dynamotest: cannot start DynamoDB Local: %v\n", err)
			return 1
		}
		defer stop()
	}
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	return m.Run()
}

// SecondEndpoint is the endpoint of the second implementation, started
// for this test process if need be.
func SecondEndpoint(t testing.TB) string {
	t.Helper()
	ep, err := second()
	if err != nil {
		t.Fatalf("dynamotest: cannot start %s: %v", Second, err)
	}
	return ep
}

// startImpl runs tools/dynamodb/start.sh for implementation impl (""
// for DynamoDB Local) with a run folder of its own and returns its
// endpoint and what stops it.
func startImpl(impl string) (ep string, stop func(), err error) {
	tools, err := toolsDir()
	if err != nil {
		return "", nil, err
	}
	runDir, err := os.MkdirTemp("", "ohfp-dynamodb-")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(filepath.Join(tools, "start.sh"), runDir)
	// Should this process die before stop runs, the server follows it.
	// main sets AWS_PROFILE to "" for the SDK; botocore (moto) reads an
	// empty one as a profile named "" and fails, so the server gets none.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AWS_PROFILE=") })
	cmd.Env = append(env, fmt.Sprintf("OHFP_DYNAMODB_OWNER_PID=%d", os.Getpid()), "OHFP_DYNAMODB_IMPL="+impl)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		os.RemoveAll(runDir)
		return "", nil, err
	}
	return strings.TrimSpace(string(out)), func() {
		if out, err := exec.Command(filepath.Join(tools, "stop.sh"), runDir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "dynamotest: stop %s: %v: %s\n", cmp.Or(impl, "DynamoDB Local"), err, out)
		}
		os.RemoveAll(runDir)
	}, nil
}

// toolsDir finds tools/dynamodb above the working directory (go test runs
// in the package's folder).
func toolsDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "tools", "dynamodb"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Options are the options of the store named name in this test process.
func Options(name string) dynamo.Options {
	return dynamo.Options{TablePrefix: "ohfp-" + run + "-" + name, EndpointURL: endpoint}
}

// OpenSecond is Open on the second implementation (Second).
func OpenSecond(t testing.TB, name string) *dynamo.Store {
	t.Helper()
	o := Options("second-" + name)
	o.EndpointURL = SecondEndpoint(t)
	return open(t, "second-"+name, o)
}

// Open initialises (when new) and opens the store named name; the same name
// opens the same tables again, as another host would. The store is closed,
// and its tables are deleted, when the t that first opened it ends: DynamoDB
// Local slows down as tables pile up.
func Open(t testing.TB, name string) *dynamo.Store {
	t.Helper()
	return open(t, name, Options(name))
}

func open(t testing.TB, name string, o dynamo.Options) *dynamo.Store {
	t.Helper()
	ctx := context.Background()
	mu.Lock()
	first := !opened[name]
	opened[name] = true
	mu.Unlock()
	if first {
		if _, err := dynamo.Init(ctx, o, true); err != nil {
			t.Fatalf("init dynamodb store %s: %v", name, err)
		}
		t.Cleanup(func() { drop(t, name, o.EndpointURL) })
	}
	s, err := dynamo.Open(ctx, o)
	if err != nil {
		t.Fatalf("open dynamodb store %s: %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var (
	mu     sync.Mutex
	opened = map[string]bool{}
)

// Drop deletes every table of the store named name, whatever tables the
// store has grown, so that a later run (go test -count) starts empty.
func Drop(t testing.TB, name string) { drop(t, name, endpoint) }

func drop(t testing.TB, name, at string) {
	db := client(t, at)
	prefix := Options(name).TablePrefix + "-"
	pages := dynamodb.NewListTablesPaginator(db, &dynamodb.ListTablesInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Errorf("list tables: %v", err)
			return
		}
		for _, table := range page.TableNames {
			if !strings.HasPrefix(table, prefix) {
				continue
			}
			if _, err := db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}); err != nil {
				t.Errorf("delete table %s: %v", table, err)
			}
		}
	}
	mu.Lock()
	delete(opened, name)
	mu.Unlock()
}

// Client is a plain DynamoDB client on the test endpoint, for looking at
// tables as they are stored.
func Client(t testing.TB) *dynamodb.Client { return client(t, endpoint) }

func client(t testing.TB, endpoint string) *dynamodb.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
}
