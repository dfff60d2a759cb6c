package dlq

import "context"

// PurgeCounts are the outcomes of a purge so far.
type PurgeCounts struct {
	Deleted, Failed int
}

// Purge deletes the given DLQ sequences for good, in order (a Scan finds
// them; asking first is the caller's job). It calls report (when not nil)
// after each delete with its error, nil when deleted, and the counts so
// far. A failed delete does not stop it; the context's end does, and is
// returned.
func (d *DLQ) Purge(ctx context.Context, seqs []uint64, report func(seq uint64, err error, c PurgeCounts)) (PurgeCounts, error) {
	var c PurgeCounts
	for _, seq := range seqs {
		if err := ctx.Err(); err != nil {
			return c, err
		}
		err := d.Delete(ctx, seq)
		if err != nil {
			c.Failed++
		} else {
			c.Deleted++
		}
		if report != nil {
			report(seq, err, c)
		}
	}
	return c, nil
}
