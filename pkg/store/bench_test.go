package store

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// BenchmarkCommit records 256 messages (a ledger entry and a user state
// each) as one Commit and as 256 single-message Commits in the same run,
// and reports both costs per message and their ratio: the gain of group
// commit.
func BenchmarkCommit(b *testing.B) {
	const batch = 256
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("nosync=%t", noSync), func(b *testing.B) {
			db := mustOpenAt(b, b.TempDir()+"/bench.db", Options{NoSync: noSync})
			snapshot := sampleUser()
			msg := func(seq, i int) (LedgerEntry, UserState) {
				id := "ev-" + strconv.Itoa(seq) + "-" + strconv.Itoa(i)
				return LedgerEntry{EventID: id, UserKey: userKey(i), Outcome: "updated"},
					UserState{Key: userKey(i), VCCUserID: "vcc-" + strconv.Itoa(i), LastEventID: id,
						Checkpoint: time.Now(), Snapshot: snapshot, Outcome: "updated", Applied: int64(seq),
						Synced: map[string]string{"email": "jane.smith@acme.example", "agentDisplayId": "1042"}}
			}
			var grouped, single time.Duration
			seq := 0
			for b.Loop() {
				seq++
				var g Batch
				for i := range batch {
					e, u := msg(seq, i)
					g.Ledger, g.Users = append(g.Ledger, e), append(g.Users, u)
				}
				t0 := time.Now()
				if err := db.Commit(g); err != nil {
					b.Fatal(err)
				}
				grouped += time.Since(t0)

				seq++
				t0 = time.Now()
				for i := range batch {
					e, u := msg(seq, i)
					if err := db.Commit(Batch{Ledger: []LedgerEntry{e}, Users: []UserState{u}}); err != nil {
						b.Fatal(err)
					}
				}
				single += time.Since(t0)
			}
			per := float64(b.N * batch)
			b.ReportMetric(float64(grouped.Nanoseconds())/per, "grouped-ns/msg")
			b.ReportMetric(float64(single.Nanoseconds())/per, "single-ns/msg")
			b.ReportMetric(float64(single)/float64(grouped), "speedup-x")
		})
	}
}
