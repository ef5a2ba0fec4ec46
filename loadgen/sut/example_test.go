package sut_test

import (
	"context"
	"fmt"

	"github.com/sessionbench/sessionbench/loadgen/nulltarget"
	"github.com/sessionbench/sessionbench/loadgen/sut"
)

// Probe takes a server someone else runs (loadgen run --target): it must
// answer, and it says what it is on /healthz. Here the null target,
// which speaks sessiond's API; nothing is started.
func ExampleProbe() {
	nt, err := nulltarget.Start("", nulltarget.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nt.Close()
	s, err := sut.Probe(context.Background(), nt.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("answers:", s.URL == nt.URL(), "started by loadgen:", s.PID != 0)
	// Output: answers: true started by loadgen: false
}
