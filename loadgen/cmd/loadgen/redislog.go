package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// redisLogInterval is how often go-redis's own messages may reach the
// terminal; the ones in between are counted, not printed.
const redisLogInterval = 10 * time.Second

// redisLogger takes go-redis's package logger (redis.SetLogger), whose
// plain "pool.go:770: redis: connection pool: failed to dial…" lines
// otherwise interleave with loadgen's output once per failed dial.
// Failures are counted in the summary; here one line per interval says
// what the client saw, with how many were held back.
type redisLogger struct {
	w          io.Writer
	now        func() time.Time
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func newRedisLogger(w io.Writer) *redisLogger { return &redisLogger{w: w, now: time.Now} }

// Printf implements go-redis's internal.Logging.
func (l *redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < redisLogInterval {
		l.suppressed++
		return
	}
	msg := fmt.Sprintf(format, v...)
	if l.suppressed > 0 {
		msg += fmt.Sprintf(" (%d more such messages in the last %v)", l.suppressed, now.Sub(l.last).Round(time.Second))
	}
	l.last, l.suppressed = now, 0
	fmt.Fprintf(l.w, "loadgen: redis client: %s\n", msg)
}
