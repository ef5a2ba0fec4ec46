package recorder

import (
	"bytes"
	"testing"
	"time"
)

// FuzzReadLog: the hlog reader returns histograms or an error for any
// input — never a panic — and what it returns holds non-negative counts.
// Seeds are a real log of this writer and damaged copies of it.
func FuzzReadLog(f *testing.F) {
	r := New()
	r.Record(Validate, Sample{Done: time.Millisecond})
	r.Record(Create, Sample{Done: 3 * time.Millisecond})
	var b bytes.Buffer
	lw, err := NewLogWriter(&b, time.Unix(1_700_000_000, 0))
	if err != nil {
		f.Fatal(err)
	}
	if err := lw.Write(r.Tick(1_700_000_000_000, 1_700_000_001_000)); err != nil {
		f.Fatal(err)
	}
	good := b.Bytes()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("#[StartTime]: x\nTag=validate,0.000,1.000,0.001,HISTFAAAA\n"))
	f.Add([]byte("Tag=create,1,1,1,!!notbase64\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		hs, err := ReadLog(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, h := range hs {
			if h.TotalCount() < 0 {
				t.Fatalf("negative count %d", h.TotalCount())
			}
		}
	})
}
