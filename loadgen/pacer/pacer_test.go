package pacer

import (
	"math"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/scenario"
)

// TestConstantNoDrift: the intended time of op 10^6 at 1000/s is exactly
// 1000 s — computed in closed form, not accumulated.
func TestConstantNoDrift(t *testing.T) {
	s, err := Constant(1000, 2000*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		i    uint64
		want time.Duration
	}{{0, 0}, {1, time.Millisecond}, {999_999, 999_999 * time.Millisecond}, {1_000_000, 1000 * time.Second}, {1_999_999, 1_999_999 * time.Millisecond}} {
		got, ok := s.At(c.i)
		if !ok || got != c.want {
			t.Errorf("At(%d) = %v, %v; want %v", c.i, got, ok, c.want)
		}
	}
	if _, ok := s.At(2_000_000); ok {
		t.Error("At(2e6) should be past the end")
	}
	// A rate that does not divide a second: 3/s → op 3e6 at exactly 1e6 s.
	s3, _ := Constant(3, 2_000_000*time.Second)
	if got, _ := s3.At(3_000_000); got != 1_000_000*time.Second {
		t.Errorf("3/s: At(3e6) = %v", got)
	}
	if got, _ := s3.At(1); got != 333_333_333 {
		t.Errorf("3/s: At(1) = %d ns", got)
	}
}

// TestIntervalsMatchRate checks every gap over 10^6 ops in virtual time.
func TestIntervalsMatchRate(t *testing.T) {
	s, _ := Constant(7919, time.Hour)
	prev, _ := s.At(0)
	for i := uint64(1); i <= 1_000_000; i++ {
		at, ok := s.At(i)
		if !ok {
			t.Fatalf("At(%d) past end", i)
		}
		gap := at - prev
		if math.Abs(float64(gap)-1e9/7919) > 1 {
			t.Fatalf("gap before op %d = %v, want %v ±1ns", i, gap, 1e9/7919)
		}
		prev = at
	}
	want := time.Duration(math.Round(1e6 * 1e9 / 7919))
	if prev != want {
		t.Errorf("At(1e6) = %d, want %d", prev, want)
	}
}

// TestStagesIntegrate: 200/s for 30 s then a linear ramp to 2000/s over
// 60 s holds 6000 + (200+2000)/2·60 = 72000 ops; At inverts Ops.
func TestStagesIntegrate(t *testing.T) {
	sc := &scenario.Scenario{Duration: 90 * time.Second, Stages: []scenario.Stage{
		{Rate: 200, Duration: 30 * time.Second},
		{Ramp: true, RampTo: 2000, Duration: 60 * time.Second},
	}}
	s, err := FromScenario(sc)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Ops(30 * time.Second); got != 6000 {
		t.Errorf("Ops(30s) = %v", got)
	}
	if got := s.Ops(90 * time.Second); math.Abs(got-72000) > 1e-6 {
		t.Errorf("Ops(90s) = %v", got)
	}
	if got, _ := s.At(6000); got != 30*time.Second {
		t.Errorf("At(6000) = %v, want 30s", got)
	}
	// Midway through the ramp (t=60s) the count is 6000 + 200·30 + 1800/120·900 = 25500.
	if got, _ := s.At(25500); (got - 60*time.Second).Abs() > time.Microsecond {
		t.Errorf("At(25500) = %v, want 60s", got)
	}
	var prev time.Duration
	n := uint64(0)
	for ; ; n++ {
		at, ok := s.At(n)
		if !ok {
			break
		}
		if at < prev {
			t.Fatalf("At(%d) = %v < At(%d) = %v", n, at, n-1, prev)
		}
		if math.Abs(s.Ops(at)-float64(n)) > 1e-3 {
			t.Fatalf("Ops(At(%d)) = %v", n, s.Ops(at))
		}
		prev = at
	}
	if n != 72000 {
		t.Errorf("scheduled %d ops, want 72000", n)
	}
}

func TestRampFromZeroAndHold(t *testing.T) {
	// Ramp 0→100/s over 10 s (500 ops), then hold 100/s for the 5 s left.
	sc := &scenario.Scenario{Duration: 15 * time.Second, Stages: []scenario.Stage{{Ramp: true, RampTo: 100, Duration: 10 * time.Second}}}
	s, err := FromScenario(sc)
	if err != nil {
		t.Fatal(err)
	}
	if s.End() != 15*time.Second || math.Abs(s.Ops(s.End())-1000) > 1e-9 {
		t.Errorf("End %v Ops %v", s.End(), s.Ops(s.End()))
	}
	if got, _ := s.At(500); got != 10*time.Second {
		t.Errorf("At(500) = %v", got)
	}
	// Truncation: stages longer than the timeline are cut.
	sc.Duration = 5 * time.Second
	s, _ = FromScenario(sc)
	if math.Abs(s.Ops(s.End())-125) > 1e-9 {
		t.Errorf("truncated Ops = %v, want 125", s.Ops(s.End()))
	}
}

func TestZeroRateStageSkipped(t *testing.T) {
	s, err := Piecewise([]Segment{{From: 10, To: 10, Duration: time.Second}, {Duration: time.Second}, {From: 10, To: 10, Duration: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s.At(10); !ok || got != 2*time.Second {
		t.Errorf("At(10) = %v %v; want 2s (the zero stage holds no ops)", got, ok)
	}
}

func TestBadSegments(t *testing.T) {
	for _, segs := range [][]Segment{nil, {{From: 1, To: 1}}, {{From: -1, To: 1, Duration: 1}}, {{From: math.NaN(), Duration: 1}}} {
		if _, err := Piecewise(segs); err == nil {
			t.Errorf("Piecewise(%v) accepted", segs)
		}
	}
}

// TestRampFromZeroFirstOp: a ramp that starts at 0/s (the first stage,
// or after a 0/s stage) gives its first operation a real time, not the
// NaN of 0/0 that made the dispatcher sleep forever.
func TestRampFromZeroFirstOp(t *testing.T) {
	for name, stages := range map[string][]scenario.Stage{
		"ramp first":       {{Ramp: true, RampTo: 50, Duration: 2 * time.Second}},
		"zero then ramp":   {{Rate: 0, Duration: time.Second}, {Ramp: true, RampTo: 50, Duration: 2 * time.Second}},
		"ramp down to 0/s": {{Rate: 50, Duration: time.Second}, {Ramp: true, RampTo: 0, Duration: time.Second}},
	} {
		var total time.Duration
		for _, st := range stages {
			total += st.Duration
		}
		s, err := FromScenario(&scenario.Scenario{Duration: total, Stages: stages})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		prev := time.Duration(-1)
		n := uint64(0)
		for ; ; n++ {
			at, ok := s.At(n)
			if !ok {
				break
			}
			if at < prev || at < 0 || at >= s.End() {
				t.Fatalf("%s: At(%d) = %v after %v (end %v)", name, n, at, prev, s.End())
			}
			prev = at
		}
		if want := Count(s, s.End()); n != want || n == 0 {
			t.Errorf("%s: %d operations, Count says %d", name, n, want)
		}
	}
}

// TestCountExact: Count is the exact number of intended times before t.
func TestCountExact(t *testing.T) {
	s, _ := Piecewise([]Segment{{From: 3, To: 3, Duration: time.Second}, {From: 0, To: 100, Duration: 2 * time.Second}})
	for _, tt := range []time.Duration{0, time.Nanosecond, 333_333_333, 333_333_334, time.Second, 1500 * time.Millisecond, s.End()} {
		var want uint64
		for i := uint64(0); ; i++ {
			at, ok := s.At(i)
			if !ok || at >= tt {
				break
			}
			want++
		}
		if got := Count(s, tt); got != want {
			t.Errorf("Count(%v) = %d, want %d", tt, got, want)
		}
	}
}

// FuzzPiecewise: for any valid segments, intended times are finite,
// non-decreasing, inside the timeline, and Count agrees with At.
func FuzzPiecewise(f *testing.F) {
	f.Add(0.0, 50.0, int64(2e9), 10.0, 10.0, int64(1e9))
	f.Add(0.0, 0.0, int64(1e9), 0.0, 7.0, int64(1e9))
	f.Add(1e6, 1.0, int64(1e6), 3.0, 3.0, int64(3e9))
	f.Fuzz(func(t *testing.T, a0, a1 float64, d0 int64, b0, b1 float64, d1 int64) {
		segs := []Segment{{From: a0, To: a1, Duration: time.Duration(d0)}, {From: b0, To: b1, Duration: time.Duration(d1)}}
		s, err := Piecewise(segs)
		if err != nil {
			return
		}
		if s.Ops(s.End()) > 20_000 {
			return // keep each case cheap
		}
		prev := time.Duration(-1)
		var n uint64
		for ; ; n++ {
			at, ok := s.At(n)
			if !ok {
				break
			}
			if at < prev || at < 0 || at >= s.End() {
				t.Fatalf("At(%d) = %v after %v, end %v", n, at, prev, s.End())
			}
			prev = at
		}
		if c := Count(s, s.End()); c != n {
			t.Fatalf("Count(End) = %d, At gave %d operations", c, n)
		}
	})
}
