package scan

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

const src = `package p

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

type spec struct{ shared int }

// Exported: a root, the default feature.
func Describe() { _ = &ec2.DescribeInstancesInput{}; fleet(); both() }

// fleet serves EC2Fleet only, and so does what only it calls.
//
//ohfp:iam EC2Fleet
func fleet() { _ = ec2.NewDescribeFleetsPaginator; helper(); both() }

func helper() { _ = &ec2.CreateFleetInput{} }

// both is reached from the root and from fleet.
func both() { _ = &ec2.DescribeImagesInput{} }

//ohfp:iam ASG
func group(s spec) { _ = s.shared }

// shared is also a field: reading s.shared above is no call of it.
func (spec) shared() { _ = &ec2.DeleteFleetsInput{} }

//ohfp:iam dynamodb
func write() {
	_ = dynamodb.TransactWriteItemsInput{TransactItems: []dtypes.TransactWriteItem{{Put: nil}, {ConditionCheck: nil}}}
}

var table = map[string]func(){"w": write}

// api only lists what may be called: no call.
type api interface {
	RebootInstances(*ec2.RebootInstancesInput) error
}
`

func TestPackage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "p_test.go"), []byte("package p\nimport \"github.com/aws/aws-sdk-go-v2/service/ec2\"\nvar _ = ec2.RebootInstancesInput{}\n"), 0o644)
	got, err := Package(dir, "always")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"ec2:DescribeInstances":       {"always"},
		"ec2:DescribeFleets":          {"EC2Fleet"},
		"ec2:CreateFleet":             {"EC2Fleet"},
		"ec2:DescribeImages":          {"EC2Fleet", "always"},
		"ec2:DeleteFleets":            {"always"}, // shared() is called by nothing: a root
		"dynamodb:PutItem":            {"dynamodb"},
		"dynamodb:ConditionCheckItem": {"dynamodb"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}
