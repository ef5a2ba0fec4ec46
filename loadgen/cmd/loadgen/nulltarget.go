package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sessionbench/sessionbench/loadgen/nulltarget"
)

// nullTargetCmd serves the null target (loadgen/nulltarget) until ctx
// ends: the server make bench-generator measures the generator against,
// and, with --service-time and --pause-every/--pause-for, the paused
// server of the coordinated-omission check. Not in the usage text: it is
// a calibration tool, not part of a benchmark of sessiond.
func nullTargetCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("null-target", stderr)
	addr := fs.String("listen", "127.0.0.1:8099", "`address` to listen on (loopback)")
	var cfg nulltarget.Config
	fs.DurationVar(&cfg.ServiceTime, "service-time", 0, "delay every answer by this `duration`")
	fs.DurationVar(&cfg.PauseEvery, "pause-every", 0, "pause once every `period` (with --pause-for)")
	fs.DurationVar(&cfg.PauseFor, "pause-for", 0, "hold every answer for this `duration` at the end of each period")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return usageErr(stderr, err)
	}
	if len(pos) > 0 {
		return usageErr(stderr, fmt.Errorf("null-target: unexpected argument %q", pos[0]))
	}
	s, err := nulltarget.Start(*addr, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "null-target: serving the sessiond API on %s (no auth, no storage)\n", s.URL())
	<-ctx.Done()
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "loadgen: null-target: %v\n", err)
	}
	fmt.Fprintf(stdout, "null-target: %d requests answered on %d connections\n", s.Requests(), s.Connections())
	return exitOK
}
