package access

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	pathpkg "path"
	"slices"
	"strconv"
	"syscall"

	"github.com/ohfp/ohfp/internal/fault"
)

// FileName is the access rules file looked for in the conf folder.
const FileName = "access.json"

// Rules map Unix users and groups to roles, for the CLI and for
// HostFactory's scripts.
type Rules struct {
	// ServiceUser is the user HostFactory runs the scripts as; it has
	// every right unless a rule names it. Default: the owner of the
	// provider's config file.
	ServiceUser string `json:"service_user,omitempty"`
	Rules       []Rule `json:"rules"`
	configFile  string // whose owner is the default service user
}

// Rule grants a role to a Unix user or to the members of a Unix group.
type Rule struct {
	User      string   `json:"user,omitempty"`
	Group     string   `json:"group,omitempty"`
	Role      Role     `json:"role"`
	Templates []string `json:"templates,omitempty"`
}

// ReadRules reads the rules file at path; ok is false when there is none.
func ReadRules(path string) (r *Rules, ok bool, err error) {
	b, err := ReadGuarded(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fault.New(fault.Configuration, "the access rules %s: %v", path, err).With("file", path)
	}
	r = &Rules{}
	if err := decodeStrict(b, r, "access rules"); err != nil {
		return nil, false, fault.New(fault.Configuration, "%s: %v (an access file has service_user and rules: [{user or group, role, templates}])", path, err).With("file", path)
	}
	for i, rule := range r.Rules {
		field := fmt.Sprintf("rules[%d]", i)
		bad := func(format string, args ...any) error {
			return fault.New(fault.Configuration, "%s: %s: %s", path, field, fmt.Sprintf(format, args...)).With("file", path).With("field", field)
		}
		if (rule.User == "") == (rule.Group == "") {
			return nil, false, bad("names one user or one group")
		}
		role, err := ParseRole(string(rule.Role))
		if err != nil {
			return nil, false, bad("%v", err)
		}
		r.Rules[i].Role = role
		for _, t := range rule.Templates {
			if _, err := pathpkg.Match(t, ""); err != nil {
				return nil, false, bad("%q is not a valid template pattern", t)
			}
		}
	}
	return r, true, nil
}

// Resolve is the principal of Unix user name, member of groups: the
// strongest role of the rules naming the user or one of the groups, with
// every template their operator rules grant. The service user has every
// right unless a user rule names it; anyone else no rule names has no
// role.
func (r *Rules) Resolve(name string, groups []string) Principal {
	p := Principal{Name: name, Source: "unix user"}
	named := false
	for _, rule := range r.Rules {
		if rule.User != name && (rule.Group == "" || !slices.Contains(groups, rule.Group)) {
			continue
		}
		named = named || rule.User == name
		if rule.Role.rank() > p.Role.rank() {
			p.Role = rule.Role
		}
		p.Templates = append(p.Templates, rule.Templates...)
	}
	if service, _ := r.serviceUser(); !named && name != "" && name == service {
		return Principal{Name: name, Role: Admin, Source: "HostFactory service user"}
	}
	return p
}

// serviceUser is ServiceUser, else the owner of the config file the rules
// were read beside, and where that name comes from; "" when neither
// gives one.
func (r *Rules) serviceUser() (name, from string) {
	switch {
	case r.ServiceUser != "":
		return r.ServiceUser, "service_user"
	case r.configFile == "":
		return "", "no service_user"
	}
	if name := owner(r.configFile); name != "" {
		return name, "owner of " + r.configFile
	}
	return "", "no service_user, and the owner of " + r.configFile + " has no user name"
}

// Service is HostFactory's service user as the rules treat it, with where
// its name comes from; its Name is "" when none can be known, and then
// the five scripts get only what rules naming their user give.
func (r *Rules) Service() (p Principal, from string) {
	name, from := r.serviceUser()
	if name == "" {
		return Principal{}, from
	}
	var groups []string
	if u, err := user.Lookup(name); err == nil {
		groups = groupsOf(u)
	}
	return r.Resolve(name, groups), from
}

// groupsOf names the groups of u, leaving out those without a name.
func groupsOf(u *user.User) []string {
	var groups []string
	ids, _ := u.GroupIds()
	for _, id := range ids {
		if g, err := user.LookupGroupId(id); err == nil {
			groups = append(groups, g.Name)
		}
	}
	return groups
}

// owner is the name of the user owning path, "" when unknown.
func owner(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(st.Uid), 10))
	if err != nil {
		return ""
	}
	return u.Username
}

// Current is the principal of the Unix user running this process under
// the rules of file (the conf folder's access.json, or the file the
// configuration names); configFile is whose owner is the default service
// user. Without a rules file, everyone may do everything.
func Current(file, configFile string) (Principal, error) {
	u, err := user.Current()
	name := strconv.Itoa(os.Getuid())
	if err == nil {
		name = u.Username
	}
	r, ok, err := ReadRulesFor(file, configFile)
	if err != nil {
		return Principal{}, err
	}
	if !ok {
		return Everyone(name), nil
	}
	var groups []string
	if u != nil {
		groups = groupsOf(u)
	}
	return r.Resolve(name, groups), nil
}

// ReadRulesFor is ReadRules of file for the provider instance whose
// config file is configFile, whose owner is the default service user.
func ReadRulesFor(file, configFile string) (*Rules, bool, error) {
	r, ok, err := ReadRules(file)
	if ok {
		r.configFile = configFile
	}
	return r, ok, err
}
