package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"thinkgate/internal/wsclient"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// serial number, and returns it for clients to trust.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "thinkgate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// TestTLS: wss:// and https:// (HTTP/2) with certificates from files, and a
// reload that swaps the certificate for new connections while an existing
// WebSocket client keeps receiving.
func TestTLS(t *testing.T) {
	needPHP(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile, 1)
	app, _ := filepath.Abs("testdata/app")
	s := start(t, fmt.Sprintf("[ws]\ntls_cert = %q\ntls_key = %q\n[http]\nlisten = \"127.0.0.1:0\"\ntls_cert = %q\ntls_key = %q\n[php]\napp = %q\nentry = \"app.php\"\nworkers = 1",
		certFile, keyFile, certFile, keyFile, app))

	trust := func(c *x509.Certificate) *tls.Config {
		pool := x509.NewCertPool()
		pool.AddCert(c)
		return &tls.Config{RootCAs: pool}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wsclient.DialWith(ctx, "wss://"+s.addr("ws")+"/", wsclient.Options{TLS: trust(first)})
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	defer c.Close()
	cl := &client{Conn: c, t: t}
	if m := cl.read(); !strings.Contains(m, `"type":"init"`) {
		t.Fatalf("wss init: %q", m)
	}

	https := &http.Client{Transport: &http.Transport{TLSClientConfig: trust(first), ForceAttemptHTTP2: true}}
	resp, err := https.Get("https://" + s.addr("http") + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello" || resp.ProtoMajor != 2 {
		t.Fatalf("https: %q over %s, want hello over HTTP/2", body, resp.Proto)
	}
	// A plain-text client gets no WebSocket over the TLS port.
	if _, err := wsclient.Dial(ctx, "ws://"+s.addr("ws")+"/", nil); err == nil {
		t.Fatal("plain ws:// worked on the wss:// listener")
	}

	// Rotate the certificate and reload.
	second := writeCert(t, certFile, keyFile, 2)
	s.cmd.Process.Signal(syscall.SIGUSR1)
	waitFor(t, func() bool { return strings.Contains(s.logs(), `"renewed":["ws.tls_cert","http.tls_cert"`) })
	conn, err := tls.Dial("tcp", s.addr("ws"), trust(second))
	if err != nil {
		t.Fatalf("after reload: %v", err)
	}
	if serial := conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); serial != 2 {
		t.Fatalf("after reload the server presents serial %d", serial)
	}
	conn.Close()
	// The WebSocket client from before the reload is still connected.
	s.call("sendToAll", map[string]any{"data": "still here"})
	if m := cl.read(); m != "still here" {
		t.Fatalf("old wss client got %q", m)
	}
}

func TestTLSStartupErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.toml")
	os.WriteFile(path, []byte(mergeTOML(baseConfig, "[ws]\ntls_cert = \"/nonexistent/cert.pem\"\ntls_key = \"/nonexistent/key.pem\"")), 0o644)
	out, err := execOut(binary, "start", "-c", path)
	if err == nil || !strings.Contains(out, "thinkgate: ws.tls_cert: loading /nonexistent/cert.pem") {
		t.Fatalf("missing cert: %v %q", err, out)
	}
	os.WriteFile(path, []byte(mergeTOML(baseConfig, "[http]\ntls_cert = \"x.pem\"")), 0o644)
	out, err = execOut(binary, "start", "-c", path)
	if err == nil || !strings.Contains(out, "thinkgate: http.tls_cert: set it together with http.tls_key") {
		t.Fatalf("cert without key: %v %q", err, out)
	}
}
