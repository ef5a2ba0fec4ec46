package cloudlog_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/sessionbench/sessionbench/reference/cloudlog"
)

// Lines are JSON that Cloud Logging reads as structured entries:
// "severity" and "message" (the time is omitted here to keep the output
// stable).
func ExampleNewHandler() {
	h := cloudlog.NewHandler(os.Stdout, &cloudlog.Options{ProjectID: "demo-project"})
	log := slog.New(dropTime{h})
	log.Warn("redis is slow", "op", "validate")
	// Output: {"severity":"WARNING","message":"redis is slow","op":"validate"}
}

// dropTime removes the record's time, so the example's output is fixed.
type dropTime struct{ slog.Handler }

func (d dropTime) Handle(ctx context.Context, r slog.Record) error {
	r.Time = time.Time{}
	return d.Handler.Handle(ctx, r)
}
