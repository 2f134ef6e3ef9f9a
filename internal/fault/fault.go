// Package fault carries an error code from the place an error happens to the
// place it is printed, so HostFactory gets the right envelope and exit status.
package fault

import (
	"errors"
	"fmt"
)

// Code is one of the error codes of the HostFactory contract.
type Code string

// The codes of the contract, grouped by exit status.
const (
	Configuration      Code = "CONFIGURATION_ERROR"
	Internal           Code = "INTERNAL_ERROR"
	InvalidRequest     Code = "INVALID_REQUEST"
	TemplateNotFound   Code = "TEMPLATE_NOT_FOUND"
	RequestNotFound    Code = "REQUEST_NOT_FOUND"
	ProvisioningFailed Code = "PROVISIONING_FAILED"
	Cloud              Code = "CLOUD_ERROR"
	QuotaExceeded      Code = "QUOTA_EXCEEDED"
	// PermissionDenied: the principal lacks the role or template grant
	// (docs/policies.md#who-may-do-what); ohfp's own, not HostFactory's.
	PermissionDenied Code = "PERMISSION_DENIED"
)

// ExitCode is the process exit status HostFactory expects for c.
func (c Code) ExitCode() int {
	switch c {
	case InvalidRequest, TemplateNotFound, RequestNotFound, PermissionDenied:
		return 2
	case ProvisioningFailed, Cloud, QuotaExceeded:
		return 3
	default:
		return 1
	}
}

// Error is an error with a contract code and optional details for the
// envelope's "details" object.
type Error struct {
	Code    Code
	Message string
	Details map[string]any
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// With returns e with one more detail.
func (e *Error) With(key string, value any) *Error {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	e.Details[key] = value
	return e
}

// New makes an error with a code and a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap makes an error with a code around err. A code already carried by err
// is kept when code is empty, and a configuration error stays one when
// wrapped as internal: a store whose tables are missing is a setup problem
// at every layer that reports it.
func Wrap(code Code, err error, format string, args ...any) *Error {
	if inner := CodeOf(err); code == "" || code == Internal && inner == Configuration {
		code = inner
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf is the code err carries, or Internal when it carries none.
func CodeOf(err error) Code {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	return Internal
}

// DetailsOf merges the details of every fault.Error in err's chain, the
// outermost winning.
func DetailsOf(err error) map[string]any {
	var out map[string]any
	for err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			break
		}
		for k, v := range fe.Details {
			if out == nil {
				out = map[string]any{}
			}
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
		err = fe.Err
	}
	return out
}
