package pool_test

import (
	"fmt"

	"github.com/sessionbench/sessionbench/loadgen/driver"
	"github.com/sessionbench/sessionbench/loadgen/pool"
)

// Creates add sessions; validates pick one without removing it; a
// destroy takes one, so no two destroys ever get the same session.
func Example() {
	p := pool.New()
	for _, c := range []string{"sid-a", "sid-b", "sid-c"} {
		p.Add(driver.Session{Credential: c})
	}
	pick := pool.NewUniform(1) // seeded: a run can be repeated
	v, _ := p.Pick(pick)
	fmt.Println("validate picks a live session:", p.Live(v.ID))
	d, _ := p.Take(pick)
	fmt.Println("destroy took it out:", !p.Live(d.ID), "live:", p.Len())
	added, taken := p.Counts()
	fmt.Println("added", added, "taken", taken)
	// Output:
	// validate picks a live session: true
	// destroy took it out: true live: 2
	// added 3 taken 1
}
