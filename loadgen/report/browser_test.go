package report

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sessionbench/sessionbench/internal/testsvc"
)

// chromium finds the browser: $CHROMIUM, else chromium in PATH.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	_, err := exec.LookPath("chromium")
	testsvc.Unavailable(t, "chromium", err, "apt-get install -y chromium")
	return ""
}

// TestReportOpensInChromium: report.html, opened from disk in headless
// Chromium with the network off, logs no console error or exception and
// draws every chart (each figure holds a rendered SVG with a size).
func TestReportOpensInChromium(t *testing.T) {
	bin := chromium(t)
	r := fixture(t, "smoke-basic")
	r.Dir = t.TempDir()
	if err := WriteFiles(r); err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, "console "+string(e.Type))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		}
	}); err != nil {
		testsvc.Unavailable(t, "chromium", err, "apt-get install -y chromium")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+filepath.Join(r.Dir, HTMLFile)), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	figures, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("figure.chart").length`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	drawn, err := chromedp.Run(ctx, chromedp.Evaluate[int](
		`[...document.querySelectorAll("figure.chart svg")].filter(s => s.getBoundingClientRect().height > 100 && s.querySelectorAll("path").length > 5).length`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if figures < 6 || drawn != figures {
		t.Errorf("%d chart figures, %d drawn; want every one drawn (at least 6)", figures, drawn)
	}
	if !strings.Contains(title, "smoke") {
		t.Errorf("title %q", title)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("console: %v", problems)
	}
}
