package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/vccsync/vccsync/pkg/events"
)

// OrgIDs is a repeatable flag of Salesforce organization IDs (00D…), also
// separated by commas; it keeps the first 15 characters of each.
type OrgIDs struct {
	IDs []string
}

// Type names the flag's value in usage.
func (l *OrgIDs) Type() string { return "org-ids" }

func (l *OrgIDs) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.IDs, ",")
}

// Set adds the IDs in s.
func (l *OrgIDs) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		id := strings.TrimSpace(part)
		if _, err := events.NormalizeID(id); err != nil {
			return fmt.Errorf("not a Salesforce organization ID (00D…, 15 or 18 characters): %w", err)
		}
		if !strings.HasPrefix(id, "00D") {
			return fmt.Errorf("%q is not a Salesforce organization ID (00D…): its key prefix is %q", id, id[:3])
		}
		l.IDs = append(l.IDs, id[:15])
	}
	return nil
}

// ByteSize is a size flag: bytes, or a number with KiB or MiB.
type ByteSize int64

func (b ByteSize) String() string {
	n := int64(b)
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Type names the flag's value in usage.
func (b ByteSize) Type() string { return "size" }

// Set parses s: 1048576, 1024KiB, 1MiB, 512B.
func (b *ByteSize) Set(s string) error {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"B", 1}} {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > 1<<40/mult {
		return fmt.Errorf("%q: want bytes, or a number with KiB or MiB (e.g. 1MiB)", s)
	}
	*b = ByteSize(n * mult)
	return nil
}

// TimeEncoder writes log timestamps in RFC 3339 with milliseconds, as
// every vccsync binary logs them.
var TimeEncoder = zapcore.TimeEncoderOfLayout("2006-01-02T15:04:05.000Z07:00")

// Logger logs at info to w: format json, console (coloured on a
// terminal), or auto
// (console when stderr is a terminal, else json).
func Logger(format string, w io.Writer) *zap.Logger {
	if format == "auto" {
		format = "json"
		if IsTerminal(os.Stderr) {
			format = "console"
		}
	}
	var enc zapcore.Encoder
	if format == "console" {
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		if IsTerminal(w) { // colour only where it is shown, never in a file or journal
			ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		ec.EncodeTime = TimeEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), zap.InfoLevel))
}
