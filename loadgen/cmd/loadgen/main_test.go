package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/loadgen/redisenv"
	"github.com/sessionbench/sessionbench/loadgen/sut"
)

// sessiondBin is the sessiond built once for this test binary ("" when
// the build failed: sessiondErr says why).
var sessiondBin, sessiondErr = "", error(nil)

// mainEnv makes the test binary act as loadgen (for the signal test).
const mainEnv = "LOADGEN_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := testscript.RunMain(m, map[string]func() int{
		"loadgen": func() int { return Main(os.Args[1:], os.Stdout, os.Stderr) },
	})
	if sessiondBin != "" {
		os.RemoveAll(filepath.Dir(sessiondBin))
	}
	os.Exit(code)
}

// buildSessiond builds reference/cmd/sessiond once into a temp dir, so the
// end-to-end tests run the real server the way loadgen does.
func buildSessiond(t *testing.T) string {
	t.Helper()
	if sessiondBin != "" || sessiondErr != nil {
		if sessiondErr != nil {
			t.Fatal(sessiondErr)
		}
		return sessiondBin
	}
	dir, err := os.MkdirTemp("", "loadgen-test-sessiond-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "sessiond")
	cmd := exec.Command(goTool(), "build", "-o", out, "github.com/sessionbench/sessionbench/reference/cmd/sessiond")
	if b, err := cmd.CombinedOutput(); err != nil {
		sessiondErr = fmt.Errorf("build sessiond: %v\n%s", err, b)
		t.Fatal(sessiondErr)
	}
	sessiondBin = out
	return out
}

func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

// TestScripts runs testdata/script/*.txtar: the CLI's exit codes end to
// end, with the real sessiond on embedded Redis.
func TestScripts(t *testing.T) {
	bin := buildSessiond(t)
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		// [ci]: running in CI, where a missing service fails the script.
		// [docker]: a Docker engine answers; [redisimage]: it has the
		// Redis image (SESSIONBENCH_REDIS_IMAGE, else redis:7).
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "ci":
				return testsvc.InCI(), nil
			case "docker":
				return redisenv.DockerAnswers(context.Background()) == nil, nil
			case "redisimage": // the container image is here (no pull)
				return redisenv.ImagePresent(context.Background(), redisenv.ImageOf("")) == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(env *testscript.Env) error {
			// What the container cases need from the real environment.
			for _, k := range []string{redisenv.ImageEnv, "DOCKER_HOST", "TESTCONTAINERS_RYUK_DISABLED", "TESTCONTAINERS_HOST_OVERRIDE", "CI"} {
				if v, ok := os.LookupEnv(k); ok {
					env.Setenv(k, v)
				}
			}
			env.Setenv(sut.SessiondEnv, bin)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// fail MESSAGE: fail the script (after a condition such as
			// [!exec:firebase] [ci]: a missing service fails in CI).
			"fail": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Fatalf("%s", strings.Join(args, " "))
			},
			// exitcode N cmd args...: run cmd, require exit code N; its
			// stdout and stderr are then checked as after exec.
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exitcode N command [args...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exitcode: %v", err)
				}
				err = ts.Exec(args[1], args[2:]...)
				got := 0
				var ee *exec.ExitError
				switch {
				case errors.As(err, &ee):
					got = ee.ExitCode()
				case err != nil:
					ts.Fatalf("exitcode: %v", err)
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", args[1], got, want)
				}
			},
		},
	})
}
