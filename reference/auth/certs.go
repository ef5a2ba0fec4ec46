package auth

// This file holds the cache of Google's public certificates, the keys
// that sign Firebase ID tokens.

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// GoogleCertsURL is where Google publishes, as a JSON object of kid to
// PEM certificate, the keys that sign Firebase ID tokens.
const GoogleCertsURL = "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"

// Bounds of the certificate cache. Google says how long to keep its keys
// in Cache-Control max-age (hours), kept within [certsMinAge,
// certsMaxAge]; without one they are kept certsDefaultAge. The floor is a
// decision: a max-age of 0 would otherwise mean a fetch per login. Keys
// are refreshed in the background certsEarlyRefresh before they expire,
// so logins do not wait for the fetch. A failed fetch is remembered
// certsRetryAfter, so an outage of Google's endpoint costs one fetch a
// second, not one per login.
const (
	certsDefaultAge   = 5 * time.Minute
	certsMinAge       = time.Minute
	certsMaxAge       = 24 * time.Hour
	certsEarlyRefresh = 30 * time.Second
	certsRetryAfter   = time.Second
	certsFetchTimeout = 10 * time.Second
	certsMaxBytes     = 1 << 20
)

// certCache fetches Google's certificates on first use and again when
// they expire, one fetch at a time; waiting callers give up with their
// own context while the fetch (bounded by certsFetchTimeout) goes on for
// the next ones.
type certCache struct {
	url string
	hc  *http.Client
	now func() time.Time

	mu       sync.Mutex
	keys     map[string]*rsa.PublicKey
	expires  time.Time
	failed   error
	retryAt  time.Time
	inflight chan struct{} // closed when the running fetch ends
}

func newCertCache(url string, hc *http.Client, now func() time.Time) *certCache {
	return &certCache{url: url, hc: hc, now: now}
}

// get returns the current keys by kid, or the error of the last fetch
// (never the client's fault: the caller answers 503).
func (c *certCache) get(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	for waited := false; ; waited = true {
		c.mu.Lock()
		now := c.now()
		switch {
		case c.keys != nil && now.Before(c.expires):
			keys := c.keys
			if c.inflight == nil && now.After(c.expires.Add(-certsEarlyRefresh)) && (c.failed == nil || !now.Before(c.retryAt)) {
				c.inflight = make(chan struct{})
				go c.refresh(c.inflight)
			}
			c.mu.Unlock()
			return keys, nil
		case c.failed != nil && (now.Before(c.retryAt) || waited):
			err := c.failed
			c.mu.Unlock()
			return nil, err
		}
		if c.inflight == nil {
			c.inflight = make(chan struct{})
			go c.refresh(c.inflight)
		}
		ch := c.inflight
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for Google's ID token certificates: %w", context.Cause(ctx))
		}
	}
}

func (c *certCache) refresh(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), certsFetchTimeout)
	defer cancel()
	keys, age, err := c.fetch(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if err != nil {
		c.failed, c.retryAt = err, now.Add(certsRetryAfter)
	} else {
		c.keys, c.expires, c.failed = keys, now.Add(age), nil
	}
	c.inflight = nil
	close(done)
}

func (c *certCache) fetch(ctx context.Context) (map[string]*rsa.PublicKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch Google's ID token certificates: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch Google's ID token certificates: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, certsMaxBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("fetch Google's ID token certificates: read %s: %w", c.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("fetch Google's ID token certificates: %s answered %s", c.url, resp.Status)
	}
	if len(body) > certsMaxBytes {
		return nil, 0, fmt.Errorf("fetch Google's ID token certificates: %s sent more than %d bytes", c.url, certsMaxBytes)
	}
	keys, err := parseCerts(body)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch Google's ID token certificates from %s: %w", c.url, err)
	}
	return keys, maxAge(resp.Header.Get("Cache-Control")), nil
}

// parseCerts reads Google's format: a JSON object of kid to PEM
// certificate.
func parseCerts(body []byte) (map[string]*rsa.PublicKey, error) {
	var byKID map[string]string
	if err := json.Unmarshal(body, &byKID); err != nil {
		return nil, fmt.Errorf("not a JSON object of kid to certificate: %w", err)
	}
	if len(byKID) == 0 {
		return nil, errors.New("no certificate in the answer")
	}
	keys := make(map[string]*rsa.PublicKey, len(byKID))
	for kid, cert := range byKID {
		block, _ := pem.Decode([]byte(cert))
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("kid %q: not a PEM certificate", kid)
		}
		k, err := parseRSAKey(block)
		if err != nil {
			return nil, fmt.Errorf("kid %q: %w", kid, err)
		}
		keys[kid] = k
	}
	return keys, nil
}

// maxAge reads max-age from a Cache-Control header, within the cache's
// bounds.
func maxAge(cacheControl string) time.Duration {
	for _, d := range strings.Split(cacheControl, ",") {
		name, value, ok := strings.Cut(d, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "max-age") {
			continue
		}
		n, err := strconv.ParseUint(strings.Trim(strings.TrimSpace(value), `"`), 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange) || err == nil && n >= uint64(certsMaxAge/time.Second):
			return certsMaxAge
		case err != nil:
			return certsDefaultAge
		}
		return max(time.Duration(n)*time.Second, certsMinAge)
	}
	return certsDefaultAge
}
