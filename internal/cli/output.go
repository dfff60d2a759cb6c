package cli

import (
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Value formats a value for a key=value output line: as is when it is a
// plain token, quoted when it holds spaces, quotes, '=' or control
// characters, so that every output line splits the same way.
func Value(s string) string {
	if s == "" {
		return `""`
	}
	if strings.ContainsFunc(s, func(r rune) bool {
		return r == '"' || r == '=' || r == '\\' || unicode.IsSpace(r) || !unicode.IsPrint(r)
	}) {
		return strconv.Quote(s)
	}
	return s
}

// LockedWriter serialises writes: NATS callbacks log from their own
// goroutine while a command writes its output.
type LockedWriter struct {
	mu sync.Mutex
	W  io.Writer
}

func (l *LockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.W.Write(p)
}

// IsTerminal reports whether x (a reader or writer, possibly a
// LockedWriter) is a terminal.
func IsTerminal(x any) bool {
	if lw, ok := x.(*LockedWriter); ok {
		x = lw.W
	}
	f, ok := x.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
