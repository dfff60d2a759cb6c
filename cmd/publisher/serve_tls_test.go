package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveCert is a certificate and key generated for a test, with their PEM
// files.
type serveCert struct {
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	certFile string
	keyFile  string
}

// newServeCert creates a certificate for cn: self-signed when parent is
// nil, else signed by parent. A server certificate is for 127.0.0.1.
func newServeCert(t *testing.T, cn string, parent *serveCert, isCA, server bool) *serveCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"vccsync test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	switch {
	case isCA:
		tmpl.IsCA = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	case server:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	default:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &serveCert{cert: cert, key: key, certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	if err := os.WriteFile(c.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// tlsClient trusts roots and presents client, when not nil.
func serveTLSClient(roots []*x509.Certificate, client *serveCert) *http.Client {
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if client != nil {
		cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{client.cert.Raw}, PrivateKey: client.key, Leaf: client.cert}}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
}

func TestServeTLS(t *testing.T) {
	url, js := startJetStream(t, true)
	srv := newServeCert(t, "127.0.0.1", nil, false, true) // self-signed
	s := startServe(t, url, "--tls-cert", srv.certFile, "--tls-key", srv.keyFile)
	if strings.Contains(s.logs.String(), "plain HTTP") {
		t.Errorf("a warning about plain HTTP although it serves HTTPS:\n%s", s.logs.String())
	}
	if !strings.HasPrefix(s.url, "https://127.0.0.1:") {
		t.Fatalf("serving %s, want an https URL", s.url)
	}

	serveCheckAck(t, servePost(t, serveTLSClient([]*x509.Certificate{srv.cert}, nil), s.url+"?token="+serveTestToken, serveMessage(serveTestOrg, serveJohn), nil))
	checkStored(t, js, []storedMsg{{1, "vccsync.access." + john, serveJohn.id, serveJohn.id, john}})

	if _, err := serveTLSClient(nil, nil).Post(s.url, "text/xml", strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client that does not trust the certificate: %v, want a certificate error", err)
	}
	plain := "http://" + strings.TrimPrefix(s.url, "https://")
	resp, err := http.Post(plain, "text/xml", strings.NewReader(serveMessage(serveTestOrg, serveOmar)))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the HTTPS port: %d, want 400", resp.StatusCode)
		}
	}
	if n := streamLen(t, js); n != 1 {
		t.Errorf("the stream holds %d messages, want 1", n)
	}
}

func TestServeClientCertificate(t *testing.T) {
	url, js := startJetStream(t, true)
	srv := newServeCert(t, "127.0.0.1", nil, false, true)
	ca := newServeCert(t, "Salesforce client CA", nil, true, false)
	salesforceCert := newServeCert(t, "salesforce outbound", ca, false, false)
	stranger := newServeCert(t, "someone else", nil, false, false) // self-signed, not from the CA
	s := startServe(t, url, "--tls-cert", srv.certFile, "--tls-key", srv.keyFile, "--tls-client-ca", ca.certFile)
	roots := []*x509.Certificate{srv.cert}
	msg := serveMessage(serveTestOrg, serveJohn)

	for name, client := range map[string]*http.Client{"no client certificate": serveTLSClient(roots, nil), "a certificate from another issuer": serveTLSClient(roots, stranger)} {
		resp, err := client.Post(s.url+"?token="+serveTestToken, "text/xml", strings.NewReader(msg))
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: %d, want the TLS handshake refused", name, resp.StatusCode)
		}
	}
	if n := streamLen(t, js); n != 0 {
		t.Fatalf("the stream holds %d messages, want none", n)
	}

	serveCheckAck(t, servePost(t, serveTLSClient(roots, salesforceCert), s.url+"?token="+serveTestToken, msg, nil))
	r := servePost(t, serveTLSClient(roots, salesforceCert), s.url, msg, nil)
	serveCheckFault(t, r, http.StatusUnauthorized, "soapenv:Client", "unauthorized") // the certificate adds to the token, it does not replace it
	checkStored(t, js, []storedMsg{{1, "vccsync.access." + john, serveJohn.id, serveJohn.id, john}})
}
