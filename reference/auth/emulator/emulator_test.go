package emulator_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/reference/auth/emulator"
)

func TestNewRefusesBadHostAndProject(t *testing.T) {
	cases := []struct{ name, host, project, want string }{
		{"empty host", "", "demo-x", "FIREBASE_AUTH_EMULATOR_HOST"},
		{"scheme in host", "http://127.0.0.1:9099", "demo-x", "without a scheme"},
		{"empty project", "127.0.0.1:9099", "", "--project"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := emulator.New(c.host, c.project, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want mention of %q", err, c.want)
			}
		})
	}
}

// The emulator answers errors as {"error":{"message":"EMAIL_EXISTS"}}; the
// client must surface the message and status, and send the admin
// credential only on admin calls.
func TestErrorsCarryEmulatorMessage(t *testing.T) {
	var gotAuth, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.Path
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"code":400,"message":"EMAIL_EXISTS"}}`)
	}))
	defer srv.Close()
	c, err := emulator.New(strings.TrimPrefix(srv.URL, "http://"), "demo-x", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SignUp(context.Background(), "a@example.com", "password")
	var ee *emulator.Error
	if !errors.As(err, &ee) || ee.Status != 400 || ee.Message != "EMAIL_EXISTS" || ee.Op != "signUp" {
		t.Fatalf("err = %#v, want *emulator.Error{signUp 400 EMAIL_EXISTS}", err)
	}
	if gotAuth != "" || gotPath != "/identitytoolkit.googleapis.com/v1/accounts:signUp" {
		t.Errorf("signUp sent Authorization %q to %q", gotAuth, gotPath)
	}
	_ = c.DisableUser(context.Background(), "u1", true)
	if gotAuth != "Bearer owner" || gotPath != "/identitytoolkit.googleapis.com/v1/projects/demo-x/accounts:update" {
		t.Errorf("disableUser sent Authorization %q to %q", gotAuth, gotPath)
	}
}

func TestBatchCreateValidatesBeforeSending(t *testing.T) {
	c, err := emulator.New("127.0.0.1:1", "demo-x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.BatchCreate(context.Background(), nil); err != nil {
		t.Errorf("empty batch: %v, want nil (nothing to do)", err)
	}
	if err := c.BatchCreate(context.Background(), []emulator.User{{Email: "x@example.com"}}); err == nil || !strings.Contains(err.Error(), "users[0].UID") {
		t.Errorf("missing uid: err = %v", err)
	}
	if err := c.BatchCreate(context.Background(), make([]emulator.User, 1001)); err == nil || !strings.Contains(err.Error(), "at most 1000") {
		t.Errorf("1001 users: err = %v", err)
	}
}
