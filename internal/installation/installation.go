// Package installation keeps the id of one ohfp installation: what tells
// its cloud resources from those of another installation that uses the same
// provider instance name (IBM's default "awsinst" is in every example) in
// the same account and region. The id lives with the configuration, in
// FileName in the conf folder, not in the state store: a lost or replaced
// store must not change who owns the instances.
package installation

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"

	"github.com/ohfp/ohfp/internal/fault"
)

// FileName is the file in the conf folder that holds the id.
const FileName = "ohfp-installation-id"

// Path is the id file of the conf folder dir.
func Path(dir string) string { return filepath.Join(dir, FileName) }

// Read returns the id kept in the conf folder dir; ok is false when there
// is none yet. A file that holds no valid id is a configuration error.
func Read(dir string) (id string, ok bool, err error) {
	path := Path(dir)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", false, nil
	case err != nil:
		return "", false, fault.Wrap(fault.Configuration, err, "installation id file %s", path)
	}
	id = strings.TrimSpace(string(b))
	if !valid(id) {
		return "", false, fault.New(fault.Configuration,
			"installation id file %s does not hold an installation id; restore it from a backup (never make a new one for an installation that has instances running: they would no longer be its own)", path).
			With("file", path)
	}
	return id, true, nil
}

// Ensure returns the id kept in the conf folder dir, making one there on
// first use. Concurrent first uses agree on one id: the file is created
// exclusively, and the losers read the winner's.
func Ensure(dir string) (string, error) {
	if id, ok, err := Read(dir); ok || err != nil {
		return id, err
	}
	id := uuid.NewString()
	path := Path(dir)
	// Written aside, then linked into place: the link fails if another
	// process got there first, and nobody ever reads half an id.
	tmp, err := os.CreateTemp(dir, "."+FileName+".*")
	if err != nil {
		return "", cannotWrite(path, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(id + "\n")
	if err := errors.Join(werr, tmp.Chmod(0o644), tmp.Sync(), tmp.Close()); err != nil {
		return "", cannotWrite(path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			id, _, err := Read(dir)
			return id, err
		}
		return "", cannotWrite(path, err)
	}
	return id, nil
}

func cannotWrite(path string, err error) error {
	return fault.Wrap(fault.Configuration, err,
		"cannot write the installation id file %s; run `ohfp init`, or let this user write the conf folder once", path).With("file", path)
}

// valid reports whether id looks like an id: 1-128 of [A-Za-z0-9._-].
func valid(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-", c)) {
			return false
		}
	}
	return true
}
