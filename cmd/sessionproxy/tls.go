package main

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// certificate is the public listener's TLS certificate, read from its
// files at start and again on every reload (SIGHUP): new connections get
// the newest one, and connections already open go on with theirs, since
// the certificate only matters during a handshake.
type certificate struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
}

// loadCertificate reads the certificate and key files.
func loadCertificate(certFile, keyFile string) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile}
	cert, err := c.read()
	if err != nil {
		return nil, err
	}
	c.current.Store(cert)
	return c, nil
}

// read reads the files, without putting the certificate in use.
func (c *certificate) read() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("server.tls: %w", err)
	}
	return &cert, nil
}

func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current.Load(), nil
}

// tlsConfig is the public listener's TLS: 1.2 or later (Go's default
// cipher suites, which are all forward-secret AEADs for 1.2), with
// HTTP/2 offered by ALPN, which http.Server.ServeTLS adds.
func (c *certificate) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: c.get,
	}
}

// prepareCertificate is the reload step of the TLS certificate: the files
// named at start (server.* needs a restart) are read again, and a
// certificate that cannot be read fails the reload, so the one in use
// stays.
func (a *app) prepareCertificate(loaded) (func(), error) {
	cert, err := a.cert.read()
	if err != nil {
		return nil, err
	}
	return func() {
		a.cert.current.Store(cert)
		a.log.Info("tls certificate reloaded", "certFile", a.cert.certFile)
	}, nil
}
