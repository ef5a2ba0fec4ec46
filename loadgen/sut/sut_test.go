package sut_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/loadgen/sut"
)

// TestProbeExternal: a server that answers /healthz like sessiond is
// named by its version; anything else is "external"; /metrics is found
// when it serves Prometheus text.
func TestProbeExternal(t *testing.T) {
	sessiondLike := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			_, _ = w.Write([]byte("# TYPE go_goroutines gauge\ngo_goroutines 7\n"))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok","auth":"local","version":"v9"}`))
	}))
	defer sessiondLike.Close()
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	for _, tc := range []struct{ url, server, metrics string }{
		{sessiondLike.URL, "sessiond v9", sessiondLike.URL + "/metrics"},
		{other.URL + "/", "external", ""},
	} {
		s, err := sut.Probe(context.Background(), tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if s.Server != tc.server || strings.HasSuffix(s.URL, "/") || s.MetricsURL != tc.metrics || s.PID != 0 {
			t.Errorf("%s: %+v", tc.url, s)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close of a probed server: %v", err)
		}
	}
}

func TestProbeUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	_, err = sut.Probe(context.Background(), url)
	if !errors.Is(err, sut.ErrUnreachable) || !strings.Contains(err.Error(), url) {
		t.Fatalf("got %v, want ErrUnreachable naming %s", err, url)
	}
}

func TestSessiondMissingSaysHowToFix(t *testing.T) {
	t.Setenv(sut.SessiondEnv, "/nonexistent/sessiond")
	_, err := sut.FindSessiond(context.Background(), nil)
	var ce *sut.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), sut.SessiondEnv) {
		t.Fatalf("got %v, want a ConfigError naming %s", err, sut.SessiondEnv)
	}
}

// Outside the source tree with no sessiond anywhere loadgen looks, the
// run is misconfigured (exit 2), and the message says where it looked
// and how to fix it.
func TestSessiondNotFoundOutsideTheModuleIsAConfigError(t *testing.T) {
	t.Setenv(sut.SessiondEnv, "")
	t.Chdir(t.TempDir())
	_, err := sut.FindSessiond(context.Background(), nil)
	var ce *sut.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "make build") || !strings.Contains(err.Error(), "--target") {
		t.Fatalf("got %v, want a ConfigError saying how to get sessiond", err)
	}
}
