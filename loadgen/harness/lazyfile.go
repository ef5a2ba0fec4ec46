package harness

import (
	"errors"
	"fmt"
	"os"
)

// lazyFile creates path on the first Write, so that a run with nothing
// to write there (interrupted before its measured phase) leaves no empty
// file.
type lazyFile struct {
	path string
	f    *os.File
	err  error
}

func (l *lazyFile) Write(p []byte) (int, error) {
	if l.f == nil && l.err == nil {
		l.f, l.err = os.Create(l.path)
	}
	if l.err != nil {
		return 0, l.err
	}
	return l.f.Write(p)
}

// Close closes the file if it was created; later calls do nothing.
func (l *lazyFile) Close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f, l.err = nil, errors.New("closed")
	if err != nil {
		return fmt.Errorf("close %s: %w", l.path, err)
	}
	return nil
}
