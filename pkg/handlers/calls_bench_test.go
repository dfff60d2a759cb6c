package handlers_test

import (
	"testing"

	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// The benchmarks count the VCC calls the handlers make, at the sandbox over
// HTTP, with the handler as configured by default and, measured in the same
// run as the baseline, with the old path forced by CacheOptions fields
// (NoUsernameIndex and SelectAfterCreate for creates: every unlinked user
// looked up by username first, and the template's callback number selected
// by a PATCH after the create; ReadBeforeWrite for updates: every linked
// user read before it is patched). ns/op is that of both handlers together and of little
// interest: the calls are what VCC's rate limit (160 a minute by default)
// turns into time.
//
//	go test -run '^$' -bench VCCCalls ./pkg/handlers/

// pair is two handlers on two sandboxes: the default one and the baseline.
type pair struct{ idx, old *harness }

func newPair(b *testing.B, m *handlers.Mapping, baseline handlers.CacheOptions) pair {
	b.Helper()
	p := pair{idx: newHarness(b, m), old: newHarness(b, m)}
	p.old.h.SetCaches(baseline)
	for _, hs := range []*harness{p.idx, p.old} {
		addPlainTemplate(b, hs.sb)
	}
	return p
}

func report(b *testing.B, what string, idx, old int, n float64) {
	b.ReportMetric(float64(idx)/n, "calls/"+what)
	b.ReportMetric(float64(old)/n, "baseline-calls/"+what)
	b.ReportMetric(float64(idx)/float64(old), "calls-ratio")
}

// BenchmarkVCCCallsPerCreate reports the VCC calls of a create of a new
// user once the index and the template are loaded (calls/create), the
// same on the old path (baseline-calls/create: a lookup before the create,
// the selection after it), their ratio, and the reads a create makes with
// the index (reads/create).
func BenchmarkVCCCallsPerCreate(b *testing.B) {
	for _, tc := range []struct{ name, template string }{
		{"template=demo-agent", sandbox.DemoAgentTemplateUsername},
		{"template=plain", plainTemplate},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := newPair(b, &handlers.Mapping{DefaultTemplate: tc.template, AgentIDStart: 1000}, handlers.CacheOptions{NoUsernameIndex: true, SelectAfterCreate: true})
			for _, hs := range []*harness{p.idx, p.old} {
				hs.mustCreate(b, nthPerson(0, t0)) // loads the template (and lists the account)
			}
			var idx, old, reads int
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				m := p.idx.measure(b, func() { p.idx.mustCreate(b, nthPerson(i, t0)) })
				idx, reads = idx+m.calls, reads+m.gets()
				old += p.old.measure(b, func() { p.old.mustCreate(b, nthPerson(i, t0)) }).calls
			}
			report(b, "create", idx, old, float64(b.N))
			b.ReportMetric(float64(reads)/float64(b.N), "reads/create")
		})
	}
}

// BenchmarkVCCCallsPerEvent reports the VCC calls per event of the two
// mixes (see mixShape: realistic, per 100 events 2 creates, 2
// deactivations, 10 field changes, 86 events that need no VCC write; heavy,
// 5/2/10/83): calls/event with the handler as it is (an update of a synced
// user is one PATCH), baseline-calls/event on the old path (a read before
// every update, a lookup before every create and the selection after it),
// and their ratio. The demo agent template is used.
func BenchmarkVCCCallsPerEvent(b *testing.B) {
	for _, shape := range mixShapes {
		b.Run("mix="+shape.name, func(b *testing.B) {
			p := newPair(b, nil, handlers.CacheOptions{ReadBeforeWrite: true, NoUsernameIndex: true, SelectAfterCreate: true})
			mixes := []*mix{newMix(b, p.idx, shape), newMix(b, p.old, shape)}
			var idx, old int
			b.ResetTimer()
			for range b.N {
				idx += p.idx.measure(b, func() { mixes[0].round(b) }).calls
				old += p.old.measure(b, func() { mixes[1].round(b) }).calls
			}
			report(b, "event", idx, old, float64(b.N*100))
		})
	}
}
