package proxy

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// This file holds the access log: its entry, and the two writers of it.

// AccessEntry is one request's access-log entry. It never holds a cookie,
// a query string (which may carry secrets) or a session id.
type AccessEntry struct {
	Time     time.Time // when the answer was complete
	Method   string
	Path     string // without the query, cut to MaxLoggedPath bytes
	Status   int    // 499 when the client went away first
	Duration time.Duration
	Bytes    int64 // of the response body
	Upstream string
	Remote   string
	Session  string // SessionRef of the session's id; "" when it has none
}

// An AccessLogger writes the access log, one entry per request. It is
// called from the request's goroutine, concurrently.
type AccessLogger interface {
	LogAccess(ctx context.Context, e AccessEntry)
}

// SlogAccessLog returns an AccessLogger that logs each entry to l at level
// Info, with message "request" and the entry's fields as attributes:
// method, path, status, duration, bytes, upstream, remote and, when there
// is one, session.
func SlogAccessLog(l *slog.Logger) AccessLogger { return slogAccess{l} }

type slogAccess struct{ l *slog.Logger }

func (a slogAccess) LogAccess(ctx context.Context, e AccessEntry) {
	if !a.l.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := [8]slog.Attr{
		slog.String("method", e.Method),
		slog.String("path", e.Path),
		slog.Int("status", e.Status),
		slog.Duration("duration", e.Duration),
		slog.Int64("bytes", e.Bytes),
		slog.String("upstream", e.Upstream),
		slog.String("remote", e.Remote),
	}
	n := 7
	if e.Session != "" {
		attrs[n] = slog.String("session", e.Session)
		n++
	}
	// The record is made here rather than by LogAttrs, which would also
	// look up its caller's program counter (runtime.Callers) for a source
	// that is always this line.
	line := slog.NewRecord(e.Time, slog.LevelInfo, "request", 0)
	line.AddAttrs(attrs[:n]...)
	_ = a.l.Handler().Handle(ctx, line) // as LogAttrs, which drops the error
}

// JSONAccessLog returns an AccessLogger that writes each entry to w as the
// JSON line SlogAccessLog writes through slog.JSONHandler, byte for byte,
// but straight from the entry: no slog.Record, no attributes walked twice,
// because it runs once per request. w must take concurrent writes of
// whole lines.
func JSONAccessLog(w io.Writer) AccessLogger {
	return &jsonAccessLog{w: w, bufs: sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}}
}

type jsonAccessLog struct {
	w    io.Writer
	bufs sync.Pool // *[]byte
}

func (a *jsonAccessLog) LogAccess(_ context.Context, e AccessEntry) {
	bp := a.bufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"request","method":`...)
	b = appendSlogString(b, e.Method)
	b = append(b, `,"path":`...)
	b = appendSlogString(b, e.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, int64(e.Duration), 10) // nanoseconds, as slog.JSONHandler writes a Duration
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, `,"upstream":`...)
	b = appendSlogString(b, e.Upstream)
	b = append(b, `,"remote":`...)
	b = appendSlogString(b, e.Remote)
	if e.Session != "" {
		b = append(b, `,"session":`...)
		b = appendSlogString(b, e.Session)
	}
	b = append(b, "}\n"...)
	_, _ = a.w.Write(b)   // as slog drops a handler's error
	if cap(b) <= 16<<10 { // an odd huge line is not kept
		*bp = b
		a.bufs.Put(bp)
	}
}

// appendSlogString appends s as slog.JSONHandler writes a string: quoted,
// with '"', '\\' and control characters escaped (\n, \r, \t by name, the
// others as \u00XX), invalid UTF-8 replaced by \ufffd, U+2028 and U+2029
// escaped, and everything else, HTML characters included, as it is.
func appendSlogString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// MaxLoggedPath is the longest request path the access log and the error
// log write, in bytes; a longer one is cut there and ends with "…".
const MaxLoggedPath = 1024

// truncatePath returns p cut to MaxLoggedPath bytes, at a UTF-8 boundary,
// with "…" appended when it was cut.
func truncatePath(p string) string {
	if len(p) <= MaxLoggedPath {
		return p
	}
	n := MaxLoggedPath
	for n > 0 && !utf8.RuneStart(p[n]) {
		n--
	}
	return p[:n] + "…"
}
