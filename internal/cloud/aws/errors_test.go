package aws

import (
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/fault"
)

func TestRefusalIsReportedWithItsRule(t *testing.T) {
	for _, tc := range []struct {
		code, message string
		fault         fault.Code
		rule          string // "" for none
	}{
		{"InvalidFleetConfig", "The fleet configuration contains duplicate instance pools.", fault.Cloud, "one subnet per zone"},
		{"InvalidFleetConfig", "Invalid: Parameter: InstanceTypes. Unsupported instancetypes specified in the batch request", fault.Cloud, ""},
		{"VcpuLimitExceeded", "You have requested more vCPU capacity than your current vCPU limit of 32 allows", fault.QuotaExceeded, "Service Quotas"},
		{"ValidationError", "At least one Availability Zone or VPC Subnet is required.", fault.Cloud, "give the template subnetId"},
		{"ValidationError", "The instance i-1 is not in InService or Standby.", fault.Cloud, "InService and Standby"},
		{"ValidationError", "Group ohfp-x not found", fault.Cloud, ""},
		{"InsufficientInstanceCapacity", "We currently do not have sufficient t3.micro capacity", fault.ProvisioningFailed, ""},
	} {
		t.Run(tc.code, func(t *testing.T) {
			err := awsError("ec2:CreateFleet", apiErr(tc.code, "%s", tc.message))
			msg := err.Error()
			if err.Code != tc.fault || !strings.Contains(msg, tc.code) || !strings.Contains(msg, tc.message) {
				t.Errorf("%s: %s", err.Code, msg)
			}
			if got := strings.Contains(msg, "docs/aws-rules.md"); got != (tc.rule != "") || !strings.Contains(msg, tc.rule) {
				t.Errorf("message %q, want the rule %q", msg, tc.rule)
			}
		})
	}
}
