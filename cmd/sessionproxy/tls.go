package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// certificate is the public listener's TLS certificate, read from its
// files at start and again by reload: new connections get the newest one,
// and connections already open go on with theirs, since the certificate
// only matters during a handshake.
type certificate struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
}

// loadCertificate reads the certificate and key files.
func loadCertificate(certFile, keyFile string) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the files again. On an error the certificate in use stays.
func (c *certificate) reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("server.tls: %w", err)
	}
	c.current.Store(&cert)
	return nil
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

// reloadOnSIGHUP reloads the certificate on every SIGHUP until ctx is
// done, logging what happened.
func (c *certificate) reloadOnSIGHUP(ctx context.Context, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := c.reload(); err != nil {
					log.Error("tls certificate not reloaded; the one in use stays", "error", err)
					continue
				}
				log.Info("tls certificate reloaded", "certFile", c.certFile)
			}
		}
	}()
}
