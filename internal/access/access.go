// Package access decides who may do what: principals (a Unix user of the
// CLI and of HostFactory's scripts, or the holder of a token of `ohfp
// serve`), their roles, and the templates an operator is granted. It only
// decides; the REST routes, the commands and the broker ask it.
package access

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/ohfp/ohfp/internal/fault"
)

// Role is what a principal may do.
type Role string

// The roles, each allowing what the one before does and more.
const (
	// None may do nothing: a Unix user no rule names.
	None Role = ""
	// Viewer reads: templates, requests, machines, events, policies,
	// metrics.
	Viewer Role = "viewer"
	// Operator also requests and returns machines of the templates it is
	// granted, and polls their status.
	Operator Role = "operator"
	// Admin does everything: any template, reconcile, the store, tokens.
	Admin Role = "admin"
)

// Roles lists the roles, weakest first.
var Roles = []Role{Viewer, Operator, Admin}

// rank orders roles; unknown ones rank with None.
func (r Role) rank() int { return slices.Index(Roles, r) + 1 }

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if r.rank() == 0 {
		return None, fmt.Errorf("role %q is not one of viewer, operator, admin", s)
	}
	return r, nil
}

// Action is what a route or a command does.
type Action string

// The actions, each the least role it needs.
const (
	Read Action = "read" // viewer
	// Follow is HostFactory's polling (getRequestStatus, which claims a
	// request as seen, and getReturnRequests): an operator's, and on the
	// requests' templates, since a claim stops recovery from terminating
	// what a request HostFactory never got launched.
	Follow  Action = "follow"
	Request Action = "request" // operator, on the template
	Return  Action = "return"  // operator, on the machines' templates
	Manage  Action = "manage"  // admin
)

// Actions lists every action.
var Actions = []Action{Read, Follow, Request, Return, Manage}

// needs is the least role of each action.
var needs = map[Action]Role{Read: Viewer, Follow: Operator, Request: Operator, Return: Operator, Manage: Admin}

// Needs is the least role that may do a.
func (a Action) Needs() Role { return needs[a] }

// Principal is who asks.
type Principal struct {
	Name string
	Role Role
	// Templates are the template ids or patterns (path.Match) an operator
	// may request and return machines of; an admin has every template.
	Templates []string
	// Source says how the principal was known, for messages: "unix user",
	// "token", "HostFactory service user".
	Source string
}

// String names the principal for the audit trail.
func (p Principal) String() string {
	s := p.Name
	if p.Source != "" {
		s += " (" + p.Source + ")"
	}
	return s
}

// Everyone is the principal when no access rules are configured: every
// caller may do everything, as before roles existed.
func Everyone(name string) Principal {
	return Principal{Name: name, Role: Admin, Source: "no access rules"}
}

// Allow says whether p may do a on templates (for Request, Return and Follow);
// else a PERMISSION_DENIED naming the grant p lacks.
func (p Principal) Allow(a Action, templates ...string) error {
	need, known := needs[a]
	if !known {
		// An action without a rule is nobody's: fail closed.
		return p.denied(a, "an action that has no rule", "")
	}
	if p.Role.rank() < need.rank() {
		return p.denied(a, fmt.Sprintf("role %s (has %s)", need, roleName(p.Role)), "").With("missing_role", string(need))
	}
	if (a == Request || a == Return || a == Follow) && p.Role != Admin {
		for _, t := range templates {
			if !p.granted(t) {
				return p.denied(a, fmt.Sprintf("a grant on template '%s' (granted: %s)", t, orNone(p.Templates)), t).
					With("missing_grant", t)
			}
		}
	}
	return nil
}

func (p Principal) granted(template string) bool {
	for _, g := range p.Templates {
		if g == template {
			return true
		}
		if ok, _ := path.Match(g, template); ok {
			return true
		}
	}
	return false
}

func (p Principal) denied(a Action, missing, template string) *fault.Error {
	e := fault.New(fault.PermissionDenied, "%s may not %s: it needs %s", p, a, missing).
		With("principal", p.Name).With("action", string(a))
	if template != "" {
		e.With("template", template)
	}
	return e
}

func roleName(r Role) string {
	if r == None {
		return "no role"
	}
	return string(r)
}

func orNone(ts []string) string {
	if len(ts) == 0 {
		return "none"
	}
	return strings.Join(ts, ", ")
}

type principalKey struct{}

// WithPrincipal is ctx carrying p, for the operations it reaches.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext is the principal ctx carries, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
