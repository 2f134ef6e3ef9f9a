// Package server is `ohfp serve`: one HTTP handler with a REST API for the
// five HostFactory operations and the listings, Prometheus metrics, health
// checks and a dashboard.
//
// Every call loads the provider instance's configuration and opens its
// store afresh, exactly as the scripts HostFactory runs do, so the server
// never serves stale templates and its operations land in the same log
// file, rotated by the same rules. Operation counts come from that log
// file, so the short-lived script processes are counted with the server's
// own REST calls.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/hf"
	"github.com/ohfp/ohfp/internal/metrics"
)

// Options configure a Server.
type Options struct {
	// Env describes the provider instance, as the HF_* environment does for
	// the scripts (os.Getenv in production).
	Env func(string) string
	// Token, when set, is the bearer token every route but /healthz and the
	// dashboard's static files requires. When it is not set, the server
	// makes a token of its own for the routes that change something (kept
	// in TokenFileName in the work folder), unless NoToken.
	Token string
	// NoToken lets requests that change something through without a token.
	// Only an operator's explicit word sets it, and only on loopback.
	NoToken bool
	// AllowHosts are the host names requests may name in their Host header
	// besides localhost, 127.0.0.1 and ::1.
	AllowHosts []string
	// Log receives the server's own diagnostics.
	Log *slog.Logger
}

// Server serves one provider instance over HTTP.
type Server struct {
	env    func(string) string
	own    access.Token // the server's own token, an admin's; none under --no-token
	tokens tokenGuard
	// tokensFile holds the tokens of principals (`ohfp tokens`), read
	// at each request so that a revocation takes effect at once.
	tokensFile string
	tokenFile  string // where the server's own token is, if it made one
	hosts      map[string]bool
	log        *slog.Logger
	mux        *http.ServeMux
	handler    http.Handler

	tail    *tail
	events  *events
	metrics *prometheus.Registry
	// counts are the operation counters every process of the provider
	// instance on this host keeps (metrics.File), the server's own
	// REST operations included.
	counts metrics.File
}

// route is one pattern the server serves; the OpenAPI document lists them all.
type route struct {
	pattern string // Go 1.22 ServeMux pattern: "METHOD /path/{param}"
	handler http.HandlerFunc
	open    bool          // served without the bearer token, to anyone
	action  access.Action // what it does: the role it needs (access)
}

// New makes a Server. The configuration must load now: it names the log
// file the events are read from, and the work folder of the token and of
// the operation counts.
func New(opts Options) (*Server, error) {
	cfg, err := config.Load(opts.Env)
	if err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		env:     opts.Env,
		hosts:   map[string]bool{},
		log:     log,
		mux:     http.NewServeMux(),
		metrics: prometheus.NewRegistry(),
	}
	token := opts.Token
	switch {
	case token != "" && opts.NoToken:
		return nil, errors.New("serve: a token is given and turned off at once")
	case token != "":
		s.tokens = guardAll
	case opts.NoToken:
		s.tokens = guardNone
	default:
		s.tokens = guardMutations
		s.tokenFile = filepath.Join(cfg.WorkDir, TokenFileName)
		if token, err = mutationToken(s.tokenFile); err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
	}
	if token != "" {
		s.own = access.Token{Principal: access.ServerPrincipal, Role: access.Admin, SHA256: access.Hash(token)}
	}
	s.tokensFile = filepath.Join(cfg.WorkDir, access.TokensFileName)
	s.counts = metrics.CountsFile(cfg.WorkDir, cfg.ProviderName)
	for _, h := range append(slices.Clone(loopbackHosts), opts.AllowHosts...) {
		s.hosts[strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")] = true
	}
	s.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.events = newEvents(s.metrics)
	s.tail = newTail(cfg.Logging.FilePath, s.events.line)
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern, s.authorize(rt.handler, rt))
	}
	s.handler = s.guard(s.mux)
	return s, nil
}

// TokenFile is the file holding the token the server made for the routes
// that change something, or "" when the operator gave one or none is needed.
func (s *Server) TokenFile() string { return s.tokenFile }

func (s *Server) routes() []route {
	return []route{
		{pattern: "GET /healthz", handler: s.healthz, open: true},
		{pattern: "GET /readyz", handler: s.readyz, action: access.Read},
		{pattern: "GET /metrics", handler: s.serveMetrics, action: access.Read},
		{pattern: "GET /openapi.json", handler: serveOpenAPI, action: access.Read},
		{pattern: "GET /{$}", handler: serveDashboard, open: true},
		{pattern: "GET /assets/{file}", handler: serveAsset, open: true},
		{pattern: "GET /api/v1/templates", handler: s.templates, action: access.Read},
		{pattern: "POST /api/v1/requests", handler: s.requestMachines, action: access.Request},
		{pattern: "GET /api/v1/requests", handler: s.listRequests, action: access.Read},
		{pattern: "GET /api/v1/requests/{id}", handler: s.requestStatus, action: access.Read},
		{pattern: "POST /api/v1/status", handler: s.status, action: access.Follow},
		{pattern: "POST /api/v1/returns", handler: s.returnMachines, action: access.Return},
		{pattern: "POST /api/v1/reclaims", handler: s.reclaims, action: access.Follow},
		{pattern: "GET /api/v1/machines", handler: s.listMachines, action: access.Read},
		{pattern: "GET /api/v1/events", handler: s.listEvents, action: access.Read},
		{pattern: "GET /api/v1/overview", handler: s.overview, action: access.Read},
	}
}

// ServeHTTP serves every route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// follow reads the log file every interval until ctx ends, so that lines
// are counted even when a rotation happens twice between two scrapes.
func (s *Server) follow(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.pollLog()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close releases the log file.
func (s *Server) Close() { s.tail.Close() }

func (s *Server) pollLog() {
	if err := s.tail.poll(); err != nil {
		s.log.Warn("following the log", "err", err)
	}
}

// open assembles the provider instance for one call, as a script would.
func (s *Server) open(ctx context.Context) (*app.App, error) {
	cfg, err := config.Load(s.env)
	if err != nil {
		return nil, err
	}
	return app.Open(ctx, cfg, s.log)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// readyz answers 200 when the configuration loads and the store opens,
// else 503 with the error envelope.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	a, err := s.open(r.Context())
	if err != nil {
		s.log.Warn("not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, hf.Encode("", hf.Result{}, err))
		return
	}
	a.Close()
	s.healthz(w, r)
}
