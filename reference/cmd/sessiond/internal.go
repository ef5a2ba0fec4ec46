package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"unicode"

	"github.com/sessionbench/sessionbench/reference/httpapi"
	"github.com/sessionbench/sessionbench/reference/session"
)

// logSealing says what the sealing keys protect, and only that: the
// sealed fields backends set over the internal API. Session data, user
// ids and emails are stored as they are; an operator must not read
// "keys loaded" as "sessions are encrypted".
func logSealing(log *slog.Logger, sealer *session.Sealer, internalListen string, omitEmail bool) {
	plain := "session data, user ids and emails are stored unencrypted"
	if omitEmail {
		plain = "session data and user ids are stored unencrypted (emails are not kept: --omit-email)"
	}
	switch {
	case sealer != nil && internalListen != "":
		log.Info("sealing keys protect the sealed fields backends set over the internal API (AES-256-GCM, new blobs under the primary key); "+plain,
			"primary_kid", sealer.PrimaryKID(), "internal_listen", internalListen)
	case sealer != nil:
		log.Warn("sealing keys are loaded but protect nothing here: sealed fields are set only over the internal API, which is off (--internal-listen); session data is stored unencrypted",
			"primary_kid", sealer.PrimaryKID())
	case internalListen != "":
		log.Warn("the internal API has no sealing keys: its sealed-field routes answer 501 until sessiond is started with --sealing-keys-file or "+sealingKeysEnv,
			"internal_listen", internalListen)
	}
}

// newInternalServer builds the internal API's server (--internal-listen),
// or returns nil when it is off. Errors are configuration errors.
func newInternalServer(c *serveConfig, api *httpapi.Server, st *session.Store, log *slog.Logger) (*http.Server, error) {
	if c.InternalListen == "" {
		return nil, nil
	}
	ic := httpapi.InternalConfig{Store: st}
	if c.InternalTokenFile != "" {
		tok, err := readSecretFile("internal-token-file", c.InternalTokenFile)
		if err != nil {
			return nil, err
		}
		// A client sends the secret in an Authorization header: spaces
		// around it are not part of it, and a secret with other bytes
		// (raw random bytes, a second line) could never be presented.
		lead := len(tok) - len(strings.TrimLeftFunc(tok, unicode.IsSpace))
		tok = strings.TrimSpace(tok)
		if i := strings.IndexFunc(tok, func(r rune) bool { return r < '!' || r > '~' }); i >= 0 {
			return nil, fmt.Errorf("--internal-token-file %s: the secret must be one line of printable ASCII without spaces (byte %d of the file is not): clients send it in an Authorization header; write one with head -c 32 /dev/urandom | base64 > FILE",
				c.InternalTokenFile, lead+i)
		}
		if len(tok) < httpapi.MinInternalTokenLen {
			return nil, fmt.Errorf("--internal-token-file %s holds %d bytes; use at least %d random bytes (head -c 32 /dev/urandom | base64 > FILE)",
				c.InternalTokenFile, len(tok), httpapi.MinInternalTokenLen)
		}
		ic.Token = []byte(tok)
	}
	var tlsCfg *tls.Config
	if c.InternalClientCA != "" {
		pem, err := os.ReadFile(c.InternalClientCA)
		if err != nil {
			return nil, fmt.Errorf("--internal-client-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--internal-client-ca-file %s: no PEM certificate found", c.InternalClientCA)
		}
		tlsCfg = &tls.Config{ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
		ic.RequireClientCert = true
	}
	h, err := api.Internal(ic)
	if err != nil {
		return nil, fmt.Errorf("--internal-listen: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.HTTPIdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return srv, nil
}
