package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/access"
)

// TokenEnv is the environment variable that gives the bearer token when no
// token file is named.
const TokenEnv = "OHFP_SERVE_TOKEN"

// LoadToken reads the bearer token from file, else from TokenEnv in env.
// No token at all is "", nil; a named file that is empty is an error.
func LoadToken(file string, env func(string) string) (string, error) {
	if file == "" {
		return strings.TrimSpace(env(TokenEnv)), nil
	}
	b, err := access.ReadGuarded(file)
	if err != nil {
		return "", fmt.Errorf("the token file %s: %w", file, err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("the token file %s is empty", file)
	}
	return token, nil
}

// TLS names the certificate and key files to serve HTTPS with.
type TLS struct {
	CertFile, KeyFile string
}

// shutdownGrace is how long operations in flight may take to finish once
// the server is told to stop.
const shutdownGrace = 30 * time.Second

// ListenAndServe serves on addr until ctx ends, then shuts down gracefully.
// It refuses an address that is not loopback unless a token is set, since
// the API places and terminates machines. ready, if given, is called with
// the server's URL once it listens.
func (s *Server) ListenAndServe(ctx context.Context, addr string, cert TLS, ready func(url string)) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	if cert.CertFile != "" || cert.KeyFile != "" {
		// Loaded before listening, so a bad pair fails the start, not the first call.
		pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
		if err != nil {
			return fmt.Errorf("serve: TLS certificate and key: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		scheme = "https"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); s.tokens != guardAll && (!ok || !tcp.IP.IsLoopback()) {
		ln.Close()
		return fmt.Errorf("serve: %s is reachable from other hosts: a bearer token is required (--token-file or %s)", ln.Addr(), TokenEnv)
	}
	s.allowListener(ln.Addr())
	followCtx, stopFollow := context.WithCancel(ctx)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		s.follow(followCtx, time.Second)
	}()
	defer func() { stopFollow(); <-followed }()
	done := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			done <- srv.ServeTLS(ln, "", "")
		} else {
			done <- srv.Serve(ln)
		}
	}()
	if ready != nil {
		ready(scheme + "://" + ln.Addr().String())
	}
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// allowListener lets requests name the address the server listens on, and
// the machine's own name when it listens beyond loopback: the names its
// clients use. A name that an outside DNS server controls must be allowed
// by hand (--allow-host), or a rebinding page could use it.
func (s *Server) allowListener(addr net.Addr) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() {
		return
	}
	if !tcp.IP.IsUnspecified() {
		s.hosts[tcp.IP.String()] = true
	}
	if name, err := os.Hostname(); err == nil {
		s.hosts[strings.ToLower(name)] = true
	}
}
