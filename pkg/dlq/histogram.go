package dlq

import (
	"cmp"
	"slices"
)

// Histogram counts dead letters by class and by Reason.
type Histogram struct {
	Total    int
	ByClass  map[string]int // "(none)" for a letter without a class
	ByReason map[string]int
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{ByClass: map[string]int{}, ByReason: map[string]int{}}
}

// Add counts a letter.
func (h *Histogram) Add(l *Letter) {
	h.Total++
	c := l.Class
	if c == "" {
		c = "(none)"
	}
	h.ByClass[c]++
	h.ByReason[l.Reason]++
}

// Count is one bar of a histogram.
type Count struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// Sorted returns the counts of m, largest first, then by name.
func Sorted(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{Reason: k, Count: v})
	}
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}
