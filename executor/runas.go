package executor

import (
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/dayops/dayops"
)

// stepUser is the OS user that steps run as when Options.RunAs is set.
type stepUser struct {
	cred *syscall.Credential
	name string
	home string
}

// resolveRunAs looks up spec, a user name or a numeric uid, optionally with
// ":group" (a name or a gid); the group defaults to the user's primary group.
// It refuses a spec unless dayops runs as root, since only root may start a
// process as another user.
func resolveRunAs(spec string) (*stepUser, error) {
	if spec == "" {
		return nil, nil
	}
	name, group, hasGroup := cutLast(spec, ':')
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.ParseUint(name, 10, 32); nerr == nil {
			u, err = user.LookupId(name)
		}
	}
	if err != nil {
		return nil, dayops.Errorf(dayops.KindInvalid, "steps run_as %q: no such user on this machine: create it or name another", spec)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, dayops.Errorf(dayops.KindInvalid, "steps run_as %q: user %s has uid %q, which is not a number", spec, u.Username, u.Uid)
	}
	gidText := u.Gid
	if hasGroup {
		gidText = group
		if g, err := user.LookupGroup(group); err == nil {
			gidText = g.Gid
		}
	}
	gid, err := strconv.ParseUint(gidText, 10, 32)
	if err != nil {
		return nil, dayops.Errorf(dayops.KindInvalid, "steps run_as %q: no such group %q: name an existing group or a gid", spec, gidText)
	}
	if os.Geteuid() != 0 && uint64(os.Geteuid()) != uid {
		return nil, dayops.Errorf(dayops.KindInvalid, "steps run_as %q needs dayops to run as root (it runs as uid %d): start it as root or leave run_as unset", spec, os.Geteuid())
	}
	if uid == 0 {
		return nil, dayops.Errorf(dayops.KindInvalid, "steps run_as %q is root, which protects nothing: name an unprivileged user", spec)
	}
	return &stepUser{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: false}, name: u.Username, home: u.HomeDir}, nil
}

func cutLast(s string, sep byte) (before, after string, found bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// credential is the step's OS identity, nil when it is dayops's own.
func (u *stepUser) credential() *syscall.Credential {
	if u == nil {
		return nil
	}
	return u.cred
}

// LookupRunAs resolves a run_as setting ("user", "uid", "user:group") as the
// executor does, for callers that prepare files for the step user; nil when
// spec is empty.
func LookupRunAs(spec string) (*syscall.Credential, error) {
	u, err := resolveRunAs(spec)
	if err != nil || u == nil {
		return nil, err
	}
	return u.cred, nil
}
