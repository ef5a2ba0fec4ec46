package httpapi

import (
	"sync"
	"time"
)

// logEvery is how often a rate-limited log line may repeat. Under an
// outage every request fails the same way; one line a second with a count
// says as much as a thousand, and the metrics count every request.
const logEvery = time.Second

// logLimiter lets one line through per logEvery and counts the ones it
// holds back, so the next line can say how many were dropped.
type logLimiter struct {
	mu         sync.Mutex
	next       time.Time
	suppressed int64
}

// allow reports whether a line may be logged now, and if so how many
// were suppressed since the last one (the count restarts at zero).
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	l.next = now.Add(logEvery)
	n := l.suppressed
	l.suppressed = 0
	return true, n
}
