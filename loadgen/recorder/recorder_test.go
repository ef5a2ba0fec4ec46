package recorder

import (
	"bytes"
	mrand "math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sessionbench/sessionbench/loadgen/driver"
)

func TestRecordCorrectedVsUncorrected(t *testing.T) {
	r := New()
	// Intended at 0, sent 100 ms late, done 1 ms after sending.
	r.Record(Validate, Sample{Intended: 0, Sent: 100 * time.Millisecond, Done: 101 * time.Millisecond})
	s := r.Snapshot().Ops[Validate]
	if c := s.Corrected.Max(); !s.Corrected.ValuesAreEquivalent(c, 101_000) {
		t.Errorf("corrected max %dµs, want 101000", c)
	}
	if u := s.Uncorrected.Max(); !s.Uncorrected.ValuesAreEquivalent(u, 1000) {
		t.Errorf("uncorrected max %dµs, want 1000", u)
	}
}

func TestClassificationAndClamp(t *testing.T) {
	r := New()
	r.Record(Create, Sample{Done: time.Millisecond, Err: driver.Server5xx})
	r.Record(Create, Sample{Done: time.Millisecond, Expected: ReasonBadToken})
	r.Record(Create, Sample{Done: 2 * time.Minute}) // above the 1 min max
	s := r.Snapshot().Ops[Create]
	if s.Count != 3 || s.Errors != 1 || s.ExpectedRejections != 1 || s.Clamped != 1 {
		t.Errorf("stats %+v", s)
	}
	if s.ErrorsByClass[driver.Server5xx] != 1 || s.ExpectedByReason[ReasonBadToken] != 1 {
		t.Errorf("by class %v by reason %v", s.ErrorsByClass, s.ExpectedByReason)
	}
	if s.Corrected.Max() < HighestUs*99/100 {
		t.Errorf("clamped value recorded as %d", s.Corrected.Max())
	}
}

func TestConcurrentRecord(t *testing.T) {
	r := New()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				r.Record(Op(i%3), Sample{Done: time.Duration(i) * time.Microsecond})
				if i%100 == 0 && g == 0 {
					r.Tick(0, 1)
				}
			}
		}(g)
	}
	wg.Wait()
	if n, _ := r.Snapshot().Totals(); n != 8000 {
		t.Errorf("total %d, want 8000", n)
	}
}

// TestHlogRoundTrip writes intervals with the standard log writer, reads
// them back and checks the counts per tag and the interval timestamps.
func TestHlogRoundTrip(t *testing.T) {
	r := New()
	var buf bytes.Buffer
	start := time.Unix(1_700_000_000, 250_000_000) // a start with milliseconds
	lw, err := NewLogWriter(&buf, start)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for sec := 0; sec < 3; sec++ {
		for i := 0; i <= sec*10; i++ {
			op := Op(i % 3)
			r.Record(op, Sample{Done: time.Duration(i+1) * time.Millisecond})
			r.RecordLag(time.Duration(i) * time.Microsecond)
			want[op.String()]++
			want[UncorrectedTag(op)]++
			want[LagTag]++
		}
		hs := r.Tick(start.Add(time.Duration(sec)*time.Second).UnixMilli(), start.Add(time.Duration(sec+1)*time.Second).UnixMilli())
		if err := lw.Write(hs); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []string{"Tag=validate,", "Tag=uncorrected.validate,", "Tag=lag,", "#[StartTime: 1700000000.250 ", "#[BaseTime: 1700000000.250 "} {
		if !strings.Contains(buf.String(), w) {
			t.Fatalf("log lacks %q:\n%s", w, buf.String())
		}
	}
	hs, err := ReadLog(&buf)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, h := range hs {
		got[h.Tag()] += h.TotalCount()
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("tag %s: read %d, wrote %d", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("tags read %v, wrote %v", got, want)
	}
	// Totals still hold everything after the ticks, and equal the merge
	// of each tag's intervals.
	snap := r.Snapshot()
	if n, _ := snap.Totals(); int64(n) != want["create"]+want["validate"]+want["destroy"] {
		t.Errorf("snapshot total %d", n)
	}
	merged := map[string]*hdrhistogram.Histogram{}
	for _, h := range hs {
		if merged[h.Tag()] == nil {
			merged[h.Tag()] = NewHistogram()
		}
		merged[h.Tag()].Merge(h)
	}
	for _, op := range []Op{Create, Validate, Destroy} {
		st := snap.Ops[op]
		for tag, total := range map[string]*hdrhistogram.Histogram{op.String(): st.Corrected, UncorrectedTag(op): st.Uncorrected} {
			if m := merged[tag]; m == nil || !m.Equals(total) {
				t.Errorf("merged intervals of %s differ from the snapshot", tag)
			}
		}
	}
	if !merged[LagTag].Equals(snap.Lag) {
		t.Error("merged lag intervals differ from the snapshot's lag")
	}
	// Interval start times read back relative to the millisecond base.
	if s := hs[0].StartTimeMs(); s != start.UnixMilli() {
		t.Errorf("first interval starts at %d ms, want %d", s, start.UnixMilli())
	}
}

func TestOpNames(t *testing.T) {
	for _, op := range Ops() {
		if back, ok := ParseOp(op.String()); !ok || back != op {
			t.Errorf("ParseOp(%q) = %v %v", op, back, ok)
		}
	}
}

// TestSlowestKeepsTheLargest: the kept slowest are exactly the N largest
// corrected latencies, slowest first, each with its own trace.
func TestSlowestKeepsTheLargest(t *testing.T) {
	r := New()
	r.KeepSlowest(5)
	rng := mrand.New(mrand.NewPCG(1, 2))
	var all []time.Duration
	for i := 0; i < 2000; i++ {
		lat := time.Duration(rng.IntN(1_000_000)) * time.Microsecond
		var tr driver.TraceID
		tr[0] = byte(i)
		tr[1] = byte(i >> 8)
		r.Record(Validate, Sample{Intended: time.Duration(i) * time.Millisecond, Sent: time.Duration(i) * time.Millisecond,
			Done: time.Duration(i)*time.Millisecond + lat, Trace: tr})
		all = append(all, lat)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] > all[j] })
	got := r.Snapshot().Ops[Validate].Slowest
	if len(got) != 5 {
		t.Fatalf("%d kept, want 5", len(got))
	}
	for i, s := range got {
		if s.Latency != all[i] || s.Trace.IsZero() {
			t.Errorf("slowest[%d] = %v (trace %v), want %v", i, s.Latency, s.Trace, all[i])
		}
		if i := int(s.Trace[0]) | int(s.Trace[1])<<8; s.Intended != time.Duration(i)*time.Millisecond {
			t.Errorf("trace %d came back with intended time %v", i, s.Intended)
		}
	}
	if none := New(); true {
		none.KeepSlowest(0)
		none.Record(Create, Sample{Done: time.Second})
		if n := len(none.Snapshot().Ops[Create].Slowest); n != 0 {
			t.Errorf("KeepSlowest(0) kept %d", n)
		}
	}
}

// TestCloseMatchesTheLog records from several goroutines while ticking
// and closes in the middle of it: the intervals emitted by every Tick and
// by Close hold exactly the operations Close's snapshot counts, per kind
// and tag, and whatever is recorded after Close is dropped and counted as
// late (without Close, a sample landing between the last Tick and a
// separate Snapshot was in the summary and not in the log).
func TestCloseMatchesTheLog(t *testing.T) {
	r := New()
	logged := map[string]int64{}
	var mu sync.Mutex
	keep := func(hs []*hdrhistogram.Histogram) {
		mu.Lock()
		defer mu.Unlock()
		for _, h := range hs {
			logged[h.Tag()] += h.TotalCount()
		}
	}
	// Each worker records `each` samples racing with the ticks and with
	// Close, then, once Close has returned, `after` more, which must all
	// be late.
	const workers, each, after = 4, 5000, 10
	var recorded atomic.Int64
	start, closed := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	record := func(g, i int) {
		r.Record(Op((g+i)%int(NumOps)), Sample{Done: time.Duration(i+1) * time.Microsecond})
		r.RecordLag(time.Microsecond)
	}
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			<-start
			for i := 0; i < each; i++ {
				record(g, i)
				recorded.Add(1)
			}
			<-closed
			for i := 0; i < after; i++ {
				record(g, i)
			}
		}(g)
	}
	close(start)
	for recorded.Load() < workers*each/4 {
		keep(r.Tick(0, 1))
	}
	hs, snap := r.Close(1, 2) // most likely while the workers still record
	keep(hs)
	close(closed)
	wg.Wait()

	var counted uint64
	for _, op := range Ops() {
		st := snap.Ops[op]
		counted += st.Count
		if logged[op.String()] != int64(st.Count) || logged[UncorrectedTag(op)] != int64(st.Count) {
			t.Errorf("%s: log holds %d corrected and %d uncorrected, snapshot counts %d",
				op, logged[op.String()], logged[UncorrectedTag(op)], st.Count)
		}
		if st.Corrected.TotalCount() != int64(st.Count) {
			t.Errorf("%s: snapshot histogram %d, count %d", op, st.Corrected.TotalCount(), st.Count)
		}
	}
	if logged[LagTag] != snap.Lag.TotalCount() {
		t.Errorf("lag: log %d, snapshot %d", logged[LagTag], snap.Lag.TotalCount())
	}
	if got := counted + r.Late(); got != workers*(each+after) {
		t.Errorf("counted %d + late %d = %d, recorded %d", counted, r.Late(), got, workers*(each+after))
	}
	if late := r.Late(); late < workers*after {
		t.Errorf("late %d: the %d samples recorded after Close were not all late", late, workers*after)
	}
	// After Close, nothing changes: a later Snapshot is the closing one.
	if n, _ := r.Snapshot().Totals(); n != counted {
		t.Errorf("snapshot after Close counts %d, Close counted %d", n, counted)
	}
	if hs := r.Tick(2, 3); len(hs) != 0 {
		t.Errorf("a Tick after Close emitted %d histograms", len(hs))
	}
}
