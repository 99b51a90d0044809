// Package certs serves a TLS certificate from files that can be replaced
// while running: Reload reads them again, and new handshakes use the new
// pair (existing connections keep theirs).
package certs

import (
	"crypto/tls"
	"fmt"
	"sync"
)

// Pair is a certificate and key file pair.
type Pair struct {
	certFile, keyFile string

	mu   sync.RWMutex
	cert *tls.Certificate
}

// Load reads the pair once; the error names the files.
func Load(certFile, keyFile string) (*Pair, error) {
	p := &Pair{certFile: certFile, keyFile: keyFile}
	if err := p.Reload(); err != nil {
		return nil, err
	}
	return p, nil
}

// Reload reads the files again; on error the previous pair stays in use.
func (p *Pair) Reload() error {
	p.mu.RLock()
	certFile, keyFile := p.certFile, p.keyFile
	p.mu.RUnlock()
	return p.Switch(certFile, keyFile)
}

// Switch loads another pair of files and uses them from now on; on error
// the previous pair and files stay in use.
func (p *Pair) Switch(certFile, keyFile string) error {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("loading %s and %s: %w", certFile, keyFile, err)
	}
	p.mu.Lock()
	p.cert, p.certFile, p.keyFile = &c, certFile, keyFile
	p.mu.Unlock()
	return nil
}

// Config returns a server TLS config that always uses the current pair.
// nextProtos are offered in ALPN (e.g. "h2", "http/1.1").
func (p *Pair) Config(nextProtos ...string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: nextProtos,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			p.mu.RLock()
			defer p.mu.RUnlock()
			return p.cert, nil
		},
	}
}
