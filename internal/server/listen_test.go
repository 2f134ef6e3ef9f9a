package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestListenRefusesOtherHostsWithoutToken(t *testing.T) {
	in := newInstance(t, "")
	err := in.srv.ListenAndServe(ctx(t), "0.0.0.0:0", TLS{}, func(string) { t.Error("it listened") })
	if err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("error %v", err)
	}
}

// serve runs ListenAndServe until the test ends and returns its URL.
func serve(t *testing.T, s *Server, addr string, cert TLS) string {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(c, addr, cert, func(u string) { urls <- u }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	select {
	case u := <-urls:
		return u
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	return ""
}

func TestListenWithTokenAndTLS(t *testing.T) {
	in := newInstance(t, "s3cret")
	certFile, keyFile, pool := selfSigned(t)
	url := serve(t, in.srv, "0.0.0.0:0", TLS{CertFile: certFile, KeyFile: keyFile})
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("url %s", url)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(url, "https://"))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	res, err := client.Get("https://127.0.0.1:" + port + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "ok\n" {
		t.Fatalf("/healthz over TLS: %d %s", res.StatusCode, b)
	}
	res, err = client.Get("https://127.0.0.1:" + port + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/readyz without the token: %d", res.StatusCode)
	}
}

func TestListenRejectsHalfATLSPair(t *testing.T) {
	in := newInstance(t, "")
	if err := in.srv.ListenAndServe(ctx(t), "127.0.0.1:0", TLS{CertFile: "cert.pem"}, nil); err == nil {
		t.Fatal("a certificate without a key was accepted")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ohfp test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTokenFilesWritableByAnyoneRefused: the server's own token is an
// admin's, so a token file every user may write (--token-file, or the
// serve.token the server made) is refused rather than read.
func TestTokenFilesWritableByAnyoneRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), TokenFileName)
	if err := os.WriteFile(path, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if tok, err := LoadToken(path, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "writable by every user") {
		t.Errorf("--token-file mode 0666: %q, %v", tok, err)
	}
	if tok, err := mutationToken(path); err == nil || !strings.Contains(err.Error(), "writable by every user") {
		t.Errorf("serve.token mode 0666: %q, %v", tok, err)
	}
	os.Chmod(path, 0o640)
	if tok, err := LoadToken(path, func(string) string { return "" }); err != nil || tok != "s3cret" {
		t.Errorf("--token-file mode 0640: %q, %v", tok, err)
	}
}
