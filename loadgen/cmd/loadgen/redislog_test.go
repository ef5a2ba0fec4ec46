package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRedisLoggerRateLimited: go-redis's dial failures reach stderr as
// one prefixed line per interval with a count, not one raw line each.
func TestRedisLoggerRateLimited(t *testing.T) {
	var b bytes.Buffer
	l := newRedisLogger(&b)
	now := time.Unix(0, 0)
	l.now = func() time.Time { return now }
	for i := 0; i < 50; i++ {
		l.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %v", 5, "connection refused")
		now = now.Add(100 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "loadgen: redis client: redis: connection pool: failed to dial") {
		t.Fatalf("after 5 s: %q", lines)
	}
	now = now.Add(6 * time.Second)
	l.Printf(context.Background(), "again")
	lines = strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "again (49 more such messages") {
		t.Fatalf("after 11 s: %q", lines)
	}
}
