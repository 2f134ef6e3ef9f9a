package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/config"
)

// A web page open in a browser on the HostFactory host can send requests to
// the loopback API, and DNS rebinding can give it the API's origin. So,
// the way well-kept local servers do, every request must name an allowed
// host, a browser request from another origin is refused, a mutation must
// be JSON (a page cannot send that cross-origin without a CORS preflight,
// which the server never answers) and must carry the bearer token, which
// no route ever hands out.

// loopbackHosts are the host names every server answers to.
var loopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// tokenGuard says which routes need the bearer token.
type tokenGuard int

const (
	guardAll       tokenGuard = iota // the operator's token: every route but the open ones
	guardMutations                   // a token of the server's own: mutations only
	guardNone                        // turned off by the operator, on loopback only
)

// TokenFileName is the file in the work folder that holds the token the
// server makes for mutations when the operator gives none.
const TokenFileName = "serve.token"

// mutationToken reads the token of path, or writes a new random one there
// (mode 0600) when the file is missing or empty.
func mutationToken(path string) (string, error) {
	b, err := access.ReadGuarded(path)
	if err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading the token file %s: %w", path, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("making a token: %w", err)
	}
	token := hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("writing the token file %s: %w", path, err)
	}
	// Written aside and renamed, so a reader never sees half a token.
	f, err := os.CreateTemp(filepath.Dir(path), ".serve-token-*")
	if err != nil {
		return "", fmt.Errorf("writing the token file %s: %w", path, err)
	}
	_, werr := f.WriteString(token + "\n")
	if err := errors.Join(werr, f.Close(), os.Rename(f.Name(), path)); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("writing the token file %s: %w", path, err)
	}
	return token, nil
}

// hostAllowed reports whether the Host header names this server.
func (s *Server) hostAllowed(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	return s.hosts[host]
}

// guard refuses what a foreign web page could send before any route runs.
func (s *Server) guard(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(status int, why string) {
			s.log.Warn("request refused", "method", r.Method, "path", r.URL.Path, "host", r.Host,
				"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "reason", why)
			http.Error(w, why, status)
		}
		if !s.hostAllowed(r.Host) {
			refuse(http.StatusForbidden, fmt.Sprintf("host %q is not one this server answers to (allow it with --allow-host)", r.Host))
			return
		}
		if err := cop.Check(r); err != nil {
			refuse(http.StatusForbidden, "cross-origin request refused")
			return
		}
		// Reads are refused too when a browser says they come from
		// another site, so that no page can make the API poll or count.
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" && !s.openPath(r) {
			refuse(http.StatusForbidden, "cross-origin request refused")
			return
		}
		if mutating(r) {
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				refuse(http.StatusUnsupportedMediaType, "a request that changes something must have Content-Type application/json")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// mutating reports whether r may change something.
func mutating(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// openPath reports whether r is for a route served without the token,
// which a page of another site may link to.
func (s *Server) openPath(r *http.Request) bool {
	_, pattern := s.mux.Handler(r)
	for _, rt := range s.routes() {
		if rt.pattern == pattern {
			return rt.open
		}
	}
	return false
}

// authorize finds who asks and lets the request through when their role
// allows the route's action. A bearer token names its principal: the
// server's own token (serve.token or --token) is an admin, the tokens of
// the tokens file (`ohfp tokens add`) each the principal and role they
// were made for. Until the tokens file holds one, a request without a
// token may read where the guard lets it through, as a viewer, and do
// everything under --no-token. A token
// that names no one is 401; a principal whose role falls short is 403,
// recorded in the audit trail, and nothing runs.
func (s *Server) authorize(next http.Handler, rt route) http.Handler {
	if rt.open {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok, err := s.principalOf(r, rt)
		if err != nil {
			writeFailure(w, err)
			return
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ohfp"`)
			msg := "a bearer token is required"
			if s.tokenFile != "" {
				msg += "; it is in " + s.tokenFile
			}
			http.Error(w, msg, http.StatusUnauthorized)
			return
		}
		if err := p.Allow(rt.action); err != nil {
			s.deny(r, err)
			writeFailure(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), p)))
	})
}

// principalOf is who r comes from; ok is false when a token is needed and
// none, or an unknown one, was given.
func (s *Server) principalOf(r *http.Request, rt route) (access.Principal, bool, error) {
	tokens, err := access.ReadTokens(s.tokensFile)
	if err != nil {
		return access.Principal{}, false, err
	}
	given, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if bearer {
		if s.own.SHA256 != "" {
			tokens = append(tokens, s.own)
		}
		p, ok := access.Lookup(given, tokens)
		return p, ok, nil
	}
	mutation := !strings.HasPrefix(rt.pattern, http.MethodGet+" ")
	switch {
	case len(tokens) > 0:
		// Once a principal has a token, no one goes without one, even
		// under --no-token: a principal's role would mean nothing if
		// leaving the token out made anyone an admin.
		return access.Principal{}, false, nil
	case s.tokens == guardNone:
		return access.Principal{Name: "anyone", Role: access.Admin, Source: "--no-token"}, true, nil
	case s.tokens == guardMutations && !mutation:
		return access.Principal{Name: "anyone", Role: access.Viewer, Source: "no token"}, true, nil
	}
	return access.Principal{}, false, nil
}

// deny records a refusal in the audit trail of the provider instance.
func (s *Server) deny(r *http.Request, err error) {
	cfg, cerr := config.Load(s.env)
	if cerr != nil {
		return
	}
	st, oerr := app.OpenStore(r.Context(), cfg, s.log)
	if oerr != nil {
		s.log.Warn("recording a denial", "err", oerr)
		return
	}
	defer st.Close()
	app.RecordDenial(r.Context(), st, app.Actor("ohfp serve "+r.Method+" "+r.URL.Path), err)
}
