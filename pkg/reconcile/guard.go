package reconcile

import (
	"fmt"
	"strconv"
	"strings"
)

// Threshold is the archive guard's limit: a share of the in-scope users
// ("10%" or 0.1) or an absolute count of users (25). It is a flag.Value.
type Threshold struct {
	share    float64
	count    int
	absolute bool
	text     string
}

// String returns the threshold as it was given.
func (a *Threshold) String() string {
	if a == nil {
		return ""
	}
	return a.text
}

// Set parses "10%", "0.1" or "25".
func (a *Threshold) Set(s string) error {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f < 0 || f > 100 {
			return fmt.Errorf("%q: want a percentage from 0%% to 100%%", s)
		}
		*a = Threshold{share: f / 100, text: s}
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil || f < 0:
		return fmt.Errorf("%q: want a share (10%% or 0.1) or a count of users (25)", s)
	case f < 1:
		*a = Threshold{share: f, text: s}
	case f != float64(int(f)):
		return fmt.Errorf("%q: a count of users is a whole number (a share is below 1 or ends in %%)", s)
	default:
		*a = Threshold{count: int(f), absolute: true, text: s}
	}
	return nil
}

// Limit is the most archives allowed among inScope users.
func (a Threshold) Limit(inScope int) float64 {
	if a.absolute {
		return float64(a.count)
	}
	return a.share * float64(inScope)
}

// Describe says what the limit is, e.g. "10% of 20 in-scope users = 2".
func (a Threshold) Describe(inScope int) string {
	if a.absolute {
		return fmt.Sprintf("%d users", a.count)
	}
	return fmt.Sprintf("%s of %d in-scope users = %s", a.text, inScope, number(a.Limit(inScope)))
}

// Judge sets rep.Guard: the planned archives against the threshold, and
// whether the operator allowed exceeding it.
func (rep *Report) Judge(t Threshold, allowed bool) {
	rep.Guard = Guard{Archives: rep.Archives(), Threshold: t.text, Limit: t.Limit(rep.InScope), Allowed: allowed}
	rep.Guard.Exceeded = float64(rep.Guard.Archives) > rep.Guard.Limit
}
