package install

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// owner is who the instance folder is given to; the zero owner changes
// nothing.
type owner struct {
	uid, gid int
	set      bool
}

// lookupOwner reads "user", "user:group", "user:" (the user's group) or
// numeric ids.
func lookupOwner(spec string) (owner, error) {
	if spec == "" {
		return owner{}, nil
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	o := owner{set: true}
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			return owner{}, fmt.Errorf("--owner %s: no such user", spec)
		}
	}
	o.uid, _ = strconv.Atoi(u.Uid)
	o.gid, _ = strconv.Atoi(u.Gid)
	if hasGroup && group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			if g, err = user.LookupGroupId(group); err != nil {
				return owner{}, fmt.Errorf("--owner %s: no such group", spec)
			}
		}
		o.gid, _ = strconv.Atoi(g.Gid)
	}
	return o, nil
}

func (o owner) chown(path string) error {
	if !o.set {
		return nil
	}
	if err := os.Lchown(path, o.uid, o.gid); err != nil {
		return fmt.Errorf("giving %s to --owner: %w", path, err)
	}
	return nil
}
