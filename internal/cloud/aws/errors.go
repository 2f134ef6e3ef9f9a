package aws

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/ohfp/ohfp/internal/fault"
)

// AWS error codes the provider acts on.
const (
	codeInstanceNotFound    = "InvalidInstanceID.NotFound"
	codeFleetNotFound       = "InvalidFleetId.NotFound"
	codeSpotFleetNotFound   = "InvalidSpotFleetRequestId.NotFound"
	codeInvalidInstanceType = "InvalidInstanceType"
	codeUnauthorized        = "UnauthorizedOperation"
)

// quotaCodes are account limits: more capacity needs a quota raise.
var quotaCodes = map[string]bool{
	"InstanceLimitExceeded":        true,
	"VcpuLimitExceeded":            true,
	"MaxSpotInstanceCountExceeded": true,
}

// capacityCodes are refusals of one type in one place; another type or
// subnet may still have room.
var capacityCodes = map[string]bool{
	"InsufficientInstanceCapacity":      true,
	"InsufficientCapacity":              true,
	"InsufficientHostCapacity":          true,
	"InsufficientFreeAddressesInSubnet": true,
	"Unsupported":                       true,
	"SpotMaxPriceTooLow":                true,
	// Spot capacity: "include additional instance types, include
	// additional Availability Zones" (Error codes for the EC2 API).
	"UnfulfillableCapacity": true,
}

// quotaRule is what to do about an account quota.
const quotaRule = "an account quota: ask AWS to raise it (Service Quotas), or launch fewer instances at once"

// rules are the rules of docs/aws-rules.md that an AWS refusal points to,
// by its code and, where the code alone is too broad, a part of its
// message: the refusal is reported with the rule, so that the message says
// what to change.
var rules = []struct{ code, inMessage, rule string }{
	// InvalidFleetConfig has other causes too (such as an instance type
	// a pool does not support); this is the message of two subnets of one
	// zone as public reports quote it.
	{"InvalidFleetConfig", "duplicate instance pools", "a fleet request can't span different subnets of the same Availability Zone: give the template one subnet per zone"},
	{"FilterLimitExceeded", "", "EC2 takes at most 200 filter values in one call, summed over its filters"},
	{"TagLimitExceeded", "", "EC2 takes at most 50 tags per resource: give the template fewer instanceTags"},
	{"InstanceLimitExceeded", "", quotaRule},
	{"VcpuLimitExceeded", "", quotaRule},
	{"MaxSpotInstanceCountExceeded", "", quotaRule},
	{"ValidationError", "At least one Availability Zone or VPC Subnet", "an Auto Scaling group needs subnets: give the template subnetId"},
	{"ValidationError", "not in InService or Standby", "Auto Scaling detaches only InService and Standby instances"},
	{"InvalidParameterValue", "clientToken", "a ClientToken has at most 64 ASCII characters"},
	{"InvalidParameterValue", "User data", "user data is at most 16 KB"},
}

// ruleOf is the rule an AWS refusal points to, or "".
func ruleOf(code, message string) string {
	for _, r := range rules {
		if r.code == code && strings.Contains(message, r.inMessage) {
			return r.rule
		}
	}
	return ""
}

// apiCode is the AWS error code err carries, or "" if it carries none.
func apiCode(err error) string {
	code, _ := apiError(err)
	return code
}

// apiError is the AWS error code and message err carries, if any.
func apiError(err error) (code, message string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	return "", ""
}

// ErrorCode is the AWS error code err carries, or "" if it carries none.
func ErrorCode(err error) string { return apiCode(err) }

// ErrorText is an AWS error as its code and message, or err's text when it
// carries no AWS code.
func ErrorText(err error) string {
	if code, msg := apiError(err); code != "" {
		return code + ": " + msg
	}
	return err.Error()
}

// Denied reports whether err is AWS refusing a permission: EC2's
// UnauthorizedOperation, or AccessDenied / AccessDeniedException of the
// other services.
func Denied(err error) bool {
	code := apiCode(err)
	return code == codeUnauthorized || strings.HasPrefix(code, "AccessDenied")
}

// LaunchTemplateMissing reports whether err says a launch template does
// not exist.
func LaunchTemplateMissing(err error) bool {
	code := apiCode(err)
	return strings.HasPrefix(code, "InvalidLaunchTemplateName.NotFound") || strings.HasPrefix(code, codeLaunchTemplateNotFound)
}

// tryElsewhere reports whether a launch refused with err may succeed with
// another instance type or subnet.
func tryElsewhere(err error) bool {
	code := apiCode(err)
	return capacityCodes[code] || quotaCodes[code]
}

// awsError is the one place an AWS failure of call op (such as
// "ec2:RunInstances") becomes a fault.Error. The AWS code and message are
// always kept in the text.
func awsError(op string, err error) *fault.Error {
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae):
		code, msg := ae.ErrorCode(), ae.ErrorMessage()
		fc := fault.Cloud
		switch {
		case quotaCodes[code]:
			fc = fault.QuotaExceeded
		case capacityCodes[code]:
			fc = fault.ProvisioningFailed
		case Denied(err):
			msg += " (the AWS credentials lack permission for " + op + ": grant it in the IAM policy of the role or user)"
		}
		if rule := ruleOf(code, msg); rule != "" {
			msg += " (AWS's rule: " + rule + "; see docs/aws-rules.md)"
		}
		return fault.New(fc, "%s: %s: %s", op, code, msg).With("awsErrorCode", code)
	case errors.Is(err, context.DeadlineExceeded):
		return fault.Wrap(fault.Cloud, err, "%s timed out", op)
	case errors.Is(err, context.Canceled):
		return fault.Wrap(fault.Cloud, err, "%s canceled", op)
	default:
		return fault.Wrap(fault.Cloud, err, "%s failed", op)
	}
}

// dropRejected calls call with items, and again without the items that an
// error of code names, until call succeeds, fails otherwise, names none of
// the items, or no item is left. It returns the items dropped and call's
// last error.
func dropRejected(items []string, code string, call func([]string) error) (dropped []string, err error) {
	for len(items) > 0 {
		err = call(items)
		c, msg := apiError(err)
		if err == nil || c != code {
			return dropped, err
		}
		named := namedIn(msg, items)
		if len(named) == 0 {
			return dropped, err
		}
		dropped = append(dropped, named...)
		items = without(items, named)
	}
	return dropped, nil
}

// namedIn returns the candidates that an AWS error message names, such as
// the ids of "The instance IDs 'i-1, i-2' do not exist" or the types of
// "The following supplied instance types do not exist: [a.b]".
func namedIn(msg string, candidates []string) []string {
	words := strings.FieldsFunc(msg, func(r rune) bool {
		return !(r == '-' || r == '.' || r == '_' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	})
	named := make(map[string]bool, len(words))
	for _, w := range words {
		named[strings.TrimRight(w, ".")] = true
	}
	var out []string
	for _, c := range candidates {
		if named[c] {
			out = append(out, c)
		}
	}
	return out
}

// narrowing calls call with items; when it fails with an error split
// accepts and more than one item was given, each half is tried on its own,
// down to single items, so that an item AWS refuses never holds back the
// others. It returns what still failed, joined.
func narrowing(items []string, split func(error) bool, call func([]string) error) error {
	err := call(items)
	if err == nil || len(items) < 2 || !split(err) {
		return err
	}
	half := len(items) / 2
	return errors.Join(narrowing(items[:half], split, call), narrowing(items[half:], split, call))
}

// isNotFound makes the split test of a NotFound code that named none of
// the items.
func isNotFound(code string) func(error) bool {
	return func(err error) bool { return apiCode(err) == code }
}

// mayBeOneItems tells an AWS refusal that may concern only some of the
// items of a call (unauthorized, protected, malformed) from one that
// concerns the call itself: throttling, a server error, no answer.
func mayBeOneItems(err error) bool {
	code := apiCode(err)
	if code == "" {
		return false
	}
	if _, throttle := retry.DefaultThrottleErrorCodes[code]; throttle {
		return false
	}
	var re *awshttp.ResponseError
	return !errors.As(err, &re) || re.HTTPStatusCode() < http.StatusInternalServerError
}

// without returns a new slice of the items not in drop.
func without(items, drop []string) []string {
	kept := make([]string, 0, len(items))
	for _, it := range items {
		if !slices.Contains(drop, it) {
			kept = append(kept, it)
		}
	}
	return kept
}
