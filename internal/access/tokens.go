package access

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/fault"
)

// TokensFileName is the file in the work folder that holds the tokens of
// `ohfp serve`, one principal each, as SHA-256 hashes: a copy of the file
// lets no one in.
const TokensFileName = "tokens.json"

// ServerPrincipal is the principal of the server's own token (serve.token
// or --token-file), an admin; no entry of the tokens file may take it.
const ServerPrincipal = "serve-token"

// Token is one entry of the tokens file.
type Token struct {
	Principal string    `json:"principal"`
	Role      Role      `json:"role"`
	Templates []string  `json:"templates,omitempty"`
	SHA256    string    `json:"sha256"`
	Created   time.Time `json:"created"`
}

// Principal is who holds t.
func (t Token) principal() Principal {
	return Principal{Name: t.Principal, Role: t.Role, Templates: t.Templates, Source: "token"}
}

type tokensFile struct {
	Tokens []Token `json:"tokens"`
}

// ReadTokens reads the tokens file at path; a missing file holds none.
func ReadTokens(path string) ([]Token, error) {
	b, err := ReadGuarded(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fault.New(fault.Configuration, "the tokens file %s: %v", path, err).With("file", path)
	}
	var f tokensFile
	if err := decodeStrict(b, &f, "tokens"); err != nil {
		return nil, fault.New(fault.Configuration, "%s: not a tokens file: %v", path, err).With("file", path)
	}
	for i, t := range f.Tokens {
		role, err := ParseRole(string(t.Role))
		if err != nil || t.Principal == "" || len(t.SHA256) != sha256.Size*2 {
			return nil, fault.New(fault.Configuration, "%s: tokens[%d]: needs a principal, a role (viewer, operator, admin) and a sha256", path, i).
				With("file", path).With("field", fmt.Sprintf("tokens[%d]", i))
		}
		f.Tokens[i].Role = role
	}
	return f.Tokens, nil
}

// writeTokens replaces the tokens file, mode 0600, written aside and
// renamed so that a reader never sees half of it.
func writeTokens(path string, ts []Token) error {
	b, err := json.MarshalIndent(tokensFile{Tokens: ts}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("writing the tokens file %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tokens-*")
	if err != nil {
		return fmt.Errorf("writing the tokens file %s: %w", path, err)
	}
	_, werr := f.Write(append(b, '\n'))
	if err := errors.Join(werr, f.Chmod(0o600), f.Close(), os.Rename(f.Name(), path)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing the tokens file %s: %w", path, err)
	}
	return nil
}

// NewSecret makes a random token: 32 bytes, in hex.
func NewSecret() (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("making a token: %w", err)
	}
	return hex.EncodeToString(raw), nil
}

// Hash is the stored form of a token.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// AddToken gives principal a new token with role and template grants, and
// returns the token: the only time it is ever shown. A principal has one
// token: adding one for a principal that has one is refused (revoke it
// first).
func AddToken(path, principal string, role Role, templates []string, now time.Time) (string, error) {
	if principal == "" || strings.ContainsAny(principal, " \t\n") {
		return "", fault.New(fault.InvalidRequest, "a principal is a name without spaces, got %q", principal)
	}
	if principal == ServerPrincipal {
		// The audit trail could not tell its holder from the server's own.
		return "", fault.New(fault.InvalidRequest, "%s is the principal of the server's own token; choose another name", principal)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", fault.New(fault.InvalidRequest, "%v", err)
	}
	ts, err := ReadTokens(path)
	if err != nil {
		return "", err
	}
	if slices.ContainsFunc(ts, func(t Token) bool { return t.Principal == principal }) {
		return "", fault.New(fault.InvalidRequest, "principal %s already has a token; revoke it first", principal)
	}
	secret, err := NewSecret()
	if err != nil {
		return "", err
	}
	ts = append(ts, Token{Principal: principal, Role: role, Templates: templates, SHA256: Hash(secret), Created: now.UTC()})
	if err := writeTokens(path, ts); err != nil {
		return "", err
	}
	return secret, nil
}

// RevokeToken removes the token of principal.
func RevokeToken(path, principal string) error {
	ts, err := ReadTokens(path)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ts, func(t Token) bool { return t.Principal == principal })
	if i < 0 {
		return fault.New(fault.InvalidRequest, "principal %s has no token", principal)
	}
	return writeTokens(path, slices.Delete(ts, i, i+1))
}

// Lookup finds the principal whose token is secret among ts and extra
// (tokens not in the file, such as the server's own), comparing hashes in
// constant time.
func Lookup(secret string, ts []Token) (Principal, bool) {
	sum := []byte(Hash(secret))
	found, ok := Principal{}, false
	for _, t := range ts {
		if subtle.ConstantTimeCompare(sum, []byte(t.SHA256)) == 1 {
			found, ok = t.principal(), true
		}
	}
	return found, ok
}
