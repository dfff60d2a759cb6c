package store

import (
	"encoding/binary"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vccsync/vccsync/pkg/events"
)

// sizeUsers is how many users BenchmarkStoreSize100k records.
const sizeUsers = 100_000

// sizeBatch is the worker's default batch size.
const sizeBatch = 256

// sizeWorkload is what the worker records when each of n users produces one
// event, a first sync that creates the user's VCC user: per user a state
// with a full snapshot and the Synced map the handlers write, a ledger
// entry, a history entry with three changes and an agent-ID reservation,
// in batches of sizeBatch. With sorted, users come in Salesforce ID order
// (a first sync reads them in that order); otherwise in random order.
func sizeWorkload(n int, sorted bool) ([]Batch, []map[string]string) {
	rnd := rand.New(rand.NewPCG(1, 2))
	first := []string{"jane", "john", "maria", "wei", "olga", "ahmed", "lucia", "pierre", "anna", "kenji"}
	last := []string{"smith", "johnson", "garcia", "nguyen", "kowalski", "okafor", "rossi", "dubois", "schmidt", "tanaka"}
	uuid := func() string {
		var b [16]byte
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
		return formatUUID(b[:])
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if !sorted {
		rnd.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	base := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var (
		batches []Batch
		agents  []map[string]string
	)
	for s := 0; s < n; s += sizeBatch {
		var b Batch
		ag := map[string]string{}
		b.History = map[string][]HistoryEntry{}
		for j, i := range order[s:min(s+sizeBatch, n)] {
			key := fmt.Sprintf("0055e%010dAAA", 1_000_000+i*7)
			f, l := first[rnd.IntN(len(first))], last[rnd.IntN(len(last))]
			username := fmt.Sprintf("%s.%s%d@acme-corp.example", f, l, i)
			email := fmt.Sprintf("%s.%s@acme-corp.example", f, l)
			alias := (f[:1] + l)[:min(8, len(l)+1)]
			name := fmt.Sprintf("%s%s %s%s", string(f[0]-32), f[1:], string(l[0]-32), l[1:])
			modstamp := base.Add(-time.Duration(rnd.IntN(365*24*3600)) * time.Second).Add(time.Duration(rnd.IntN(1000)) * time.Millisecond)
			at := base.Add(time.Duration(s+j) * time.Millisecond).Add(time.Duration(rnd.IntN(1e6))) // when applied
			agentID := strconv.Itoa(10_000 + s + len(ag))
			tmpl := "agent.template@acme-corp.example"
			eventID := "cdc-" + key + "-" + uuid() + "-1"
			snap := events.User{
				ID: key, Username: events.Val(username), Alias: events.Val(alias), Email: events.Val(email),
				FirstName: events.Val(name[:len(f)]), LastName: events.Val(name[len(f)+1:]), IsActive: events.Val(true),
				FederationIdentifier: events.Val(email),
				ProfileID:            events.Val(fmt.Sprintf("00e5e00000%05dAAA", 1000+rnd.IntN(5))),
				CallCenterID:         events.Val(fmt.Sprintf("04v5e00000%05dAAA", 2000+rnd.IntN(3))),
				AgentID:              events.Null[string](),
				LastModifiedDate:     events.Val(events.Time{Time: modstamp.Add(-time.Second)}),
				SystemModstamp:       events.Val(events.Time{Time: modstamp}),
			}
			b.Users = append(b.Users, UserState{
				Key: key, VCCUserID: uuid(), Checkpoint: modstamp, LastEventID: eventID, Snapshot: snap,
				Synced: map[string]string{
					"username": username, "name": name, "email": email, "ssoExternalId": email, "active": "true",
					"agentDisplayId": agentID, "provisioned": tmpl, "contactCenter": "Support EMEA", "alias": alias,
				},
				AgentID: agentID, Outcome: "created", UpdatedAt: at, Applied: 1,
			})
			b.Ledger = append(b.Ledger, LedgerEntry{EventID: eventID, UserKey: key, Outcome: "created", At: at})
			b.History[key] = []HistoryEntry{{At: at, EventID: eventID, Type: events.TypeUserChanged, Outcome: "created",
				Changes: []FieldChange{{Field: "user", New: username}, {Field: "template", New: tmpl}, {Field: "agentDisplayId", New: agentID}}}}
			ag[key] = agentID
		}
		batches, agents = append(batches, b), append(agents, ag)
	}
	return batches, agents
}

// fileSizes are a bbolt file's size and the bytes its pages in use take.
type fileSizes struct {
	file, inUse int64
	buckets     map[string]int64 // bytes of each top-level bucket's pages
}

func measure(tb testing.TB, path string) fileSizes {
	tb.Helper()
	st, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	// Read-write, so that bbolt finds the free pages (the freelist is not
	// written to the file).
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer b.Close()
	s := fileSizes{file: st.Size(), buckets: map[string]int64{}}
	err = b.View(func(tx *bolt.Tx) error {
		page := int64(tx.DB().Info().PageSize)
		free := int64(b.Stats().FreePageN + b.Stats().PendingPageN)
		s.inUse = tx.Size() - free*page
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			bs := bk.Stats()
			s.buckets[string(name)] = int64(bs.BranchPageN+bs.BranchOverflowN+bs.LeafPageN+bs.LeafOverflowN)*page +
				int64(bs.InlineBucketInuse)
			return nil
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// sizeV1Random builds the version 1 baseline of BenchmarkStoreSize100k in
// random order too: another minute.
var sizeV1Random = flag.Bool("size-v1-random", false, "BenchmarkStoreSize100k: build the version 1 baseline in random order too (about a minute more)")

// BenchmarkStoreSize100k records sizeUsers users, each with one event
// (sizeWorkload: a full state, a ledger entry, a history entry, an agent
// ID), in batches of 256 as the worker does, and reports the bytes per
// user of the file (file-B/user: it grows in steps of allocSize, 4 MiB)
// and of the pages in use (used-B/user), and the file's MiB per 10,000
// users. order=id has the users come in Salesforce ID order, as a first
// sync reads them; order=random in any order, the least favourable for
// bbolt's pages. order=id also builds the version 1 layout (its code in
// v1_test.go) from the same batches in the same run and reports its
// figures (v1-…) and the ratio; order=random does with -size-v1-random.
// It takes under a minute (its files in memory, see memDir).
func BenchmarkStoreSize100k(b *testing.B) {
	for _, sorted := range []bool{true, false} {
		order := map[bool]string{false: "random", true: "id"}[sorted]
		b.Run("order="+order, func(b *testing.B) {
			batches, agents := sizeWorkload(sizeUsers, sorted)
			withV1 := sorted || *sizeV1Random
			var v1, v2 fileSizes
			for b.Loop() {
				dir := memDir(b)
				v2 = buildV2(b, filepath.Join(dir, "v2.db"), batches, agents)
				if withV1 {
					v1 = buildV1(b, filepath.Join(dir, "v1.db"), batches, agents)
				}
			}
			per := func(n int64) float64 { return float64(n) / sizeUsers }
			b.ReportMetric(per(v2.file), "file-B/user")
			b.ReportMetric(per(v2.inUse), "used-B/user")
			b.ReportMetric(float64(v2.file)/sizeUsers*10_000/(1<<20), "file-MiB/10k-users")
			for _, name := range slices.Sorted(maps.Keys(v2.buckets)) {
				b.Logf("%-20s %6.1f B/user", name, per(v2.buckets[name]))
			}
			if withV1 {
				b.ReportMetric(per(v1.file), "v1-file-B/user")
				b.ReportMetric(per(v1.inUse), "v1-used-B/user")
				b.ReportMetric(float64(v1.file)/float64(v2.file), "v1/v2-file-x")
			}
		})
	}
}

// memDir is a temporary directory in memory (/dev/shm) where there is
// one: the benchmark measures sizes, not the disk, and writes half a
// gigabyte. Elsewhere it is b.TempDir().
func memDir(b *testing.B) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "vccsync-size-"); err == nil {
			b.Cleanup(func() { _ = os.RemoveAll(dir) })
			return dir
		}
	}
	return b.TempDir()
}

func buildV2(b *testing.B, path string, batches []Batch, agents []map[string]string) fileSizes {
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	db.now = func() time.Time { return time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC) }
	for i, batch := range batches {
		// The handlers reserve agent IDs in transactions of their own;
		// one per batch here, to the same effect on the file.
		if err := db.bolt.Update(func(tx *bolt.Tx) error {
			for _, k := range slices.Sorted(maps.Keys(agents[i])) {
				if err := reserve(tx, k, agents[i][k]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if err := db.Commit(batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	return measure(b, path)
}

func buildV1(b *testing.B, path string, batches []Batch, agents []map[string]string) fileSizes {
	s := openV1(b, path, true)
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	for i, batch := range batches {
		if err := s.reserveAgentIDs(agents[i]); err != nil {
			b.Fatal(err)
		}
		if err := s.commit(batch, now); err != nil {
			b.Fatal(err)
		}
	}
	s.close(b)
	return measure(b, path)
}

// BenchmarkStoreGrowth measures what later events add: 10,000 users
// recorded as in BenchmarkStoreSize100k, then ten rounds in which each
// user (in random order) has an event that changes one field (an email,
// old → new): a ledger entry and a history entry each. It reports the
// bytes of pages per history entry and per ledger entry.
func BenchmarkStoreGrowth(b *testing.B) {
	const users, rounds = 10_000, 10
	batches, agents := sizeWorkload(users, false)
	var hist, ledger float64
	for b.Loop() {
		path := filepath.Join(memDir(b), "growth.db")
		buildV2(b, path, batches, agents)
		db, err := Open(path, Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		pages := func(names ...[]byte) (n int64) {
			_ = db.bolt.View(func(tx *bolt.Tx) error {
				for _, name := range names {
					s := tx.Bucket(name).Stats()
					n += int64(s.BranchPageN+s.BranchOverflowN+s.LeafPageN+s.LeafOverflowN) * int64(db.bolt.Info().PageSize)
				}
				return nil
			})
			return n
		}
		h0, l0 := pages(bucketHistory), pages(bucketLedger, bucketLedgerByTime)
		var keys []string
		for _, batch := range batches {
			for _, u := range batch.Users {
				keys = append(keys, u.Key)
			}
		}
		rnd := rand.New(rand.NewPCG(3, 4))
		at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
		db.now = func() time.Time { return at }
		for round := range rounds {
			rnd.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			for s := 0; s < len(keys); s += sizeBatch {
				batch := Batch{History: map[string][]HistoryEntry{}}
				for _, k := range keys[s:min(s+sizeBatch, len(keys))] {
					at = at.Add(time.Millisecond + time.Duration(rnd.IntN(1e6)))
					id := fmt.Sprintf("cdc-%s-%s-%d", k, formatUUID(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, rnd.Uint64()), rnd.Uint64())), 1)
					batch.Ledger = append(batch.Ledger, LedgerEntry{EventID: id, Outcome: "updated", At: at})
					batch.History[k] = []HistoryEntry{{At: at, EventID: id, Type: events.TypeUserChanged, Outcome: "updated",
						Changes: []FieldChange{{Field: "email", Old: fmt.Sprintf("jane.smith%d@acme-corp.example", round),
							New: fmt.Sprintf("jane.smith%d@acme-corp.example", round+1)}}}}
				}
				if err := db.Commit(batch); err != nil {
					b.Fatal(err)
				}
			}
		}
		n := float64(users * rounds)
		hist, ledger = float64(pages(bucketHistory)-h0)/n, float64(pages(bucketLedger, bucketLedgerByTime)-l0)/n
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(hist, "B/history-entry")
	b.ReportMetric(ledger, "B/ledger-entry")
}
