package driver_test

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
)

// startMiniredis is miniredis.RunT whose cleanup closes through
// stopMiniredis.
func startMiniredis(t testing.TB) *miniredis.Miniredis {
	t.Helper()
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopMiniredis(mr) })
	return mr
}

// stopMiniredis closes mr's connections before mr itself: miniredis
// (v2.40.0) reads its server field in INFO without the lock Close takes to
// clear it, so a plain Close after an INFO is a data race inside
// miniredis. Waiting for the connections' goroutines orders those reads
// before the write.
func stopMiniredis(mr *miniredis.Miniredis) {
	if srv := mr.Server(); srv != nil {
		srv.Close()
	}
	mr.Close()
}
