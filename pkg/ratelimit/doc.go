// Package ratelimit paces the requests of a client to an API whose rate
// limit is not published and whose 429 replies say nothing of when to come
// back: Vonage Contact Center's per-account "fair usage" limit (no number,
// no Retry-After). Adaptive finds the limit from the 429s, with an AIMD
// (additive increase, multiplicative decrease) scheme in the manner of TCP
// congestion control, and paces the requests at the rate found.
//
// Adaptive implements the VCC client's Limiter (vcc.Config.Limiter): the
// client calls Wait before each request to the API, retries included, and
// Observe after each reply, true when VCC answered 429. Rate is the current
// rate, for a gauge:
//
//	lim, err := ratelimit.NewAdaptive(ratelimit.Config{}) // from 160/min
//	...
//	client, err := vcc.New(vcc.Config{ /* ... */ Limiter: lim})
//	gauge := prometheus.NewGaugeFunc(opts, lim.Rate) // requests a minute
//
// # Algorithm
//
// Rates are requests a minute. Wait paces with a token bucket
// (golang.org/x/time/rate) at rate/60 a second; waiters are served in
// order. Its burst is a second's worth of the rate, at least 1 and at most
// MaxBurst (10): never more than a minute's budget (Floor is at least 1),
// so a burst after an idle spell cannot spend the minute of a low limit.
//
// The limit is taken to be a sliding 60-second window (what the sandbox
// implements): VCC answers 429 when the requests it accepted in the last
// minute reach the limit. It is only reached from below, so the requests
// VCC accepted in the minute before a 429 measure it: the level.
//
// On a 429 (Observe(true)) the limiter starts a congestion event and
// decreases the rate, once: for Hold (20s) after it further 429s belong to
// the same event and are ignored (a window refuses until older requests
// leave it, so more 429s follow any decrease), and the rate does not grow.
// The decrease is one of:
//   - the caller used its rate (its replies in the last minute reach half
//     of it): level = the replies VCC accepted in the last minute (at least
//     10 replies), rate = Decrease (0.95) × min(rate, level);
//   - a wall, when nothing got through since the last decrease or in the
//     last minute (a 429 storm, a window still full of older requests):
//     the rate is halved and the level kept, since the limit may well be
//     back when the wall ends;
//   - the caller was app-limited (others spent the account's budget):
//     rate = Decrease × rate, the level kept.
//
// Otherwise the rate grows in steps of a second (or of ten requests at low
// rates), and only in steps in which the limiter set the pace — at least
// half of the Waits had to wait —, so that a caller with little to do does
// not drift to a rate it never tried:
//   - no level known: slow start, SlowStart (2×) a minute;
//   - below Decrease × level: back up to it at SlowStart⁴ (16×) a minute,
//     which cannot overshoot a limit that is still the level;
//   - from there to 2% (at least two requests) above the level: additive
//     probing, Probe (1%) of the rate a minute;
//   - past that without a 429 the limit has risen: the level is forgotten
//     and slow start finds the new one.
//
// The rate stays within [Floor, Ceiling] (10 and 10000 a minute).
//
// In steady state the rate is a sawtooth: cut to 0.95 × the limit, it
// climbs 1% a minute, passes the limit after about five minutes, meets
// one 429 (or a few: the requests already paced at the old rate) and is cut
// again; a minute after the cut the window holds ~the limit, so no 429s
// echo. Against a sliding window of L from 60 to 6000 a minute, from
// 160/min, with 16 callers as fast as it lets them, BenchmarkAdaptiveRate
// measures, over the 20 minutes after a warm-up of 10, 96.5–97.6% of L
// used with 0.00–0.17% of the calls answered 429 (the fixed 160/min limiter
// uses 27% of 600/min, 2.7% of 6000/min, and draws 62% 429s from 60/min).
//
// # Time
//
// Every decision is dated by Config.Clock, and Wait sleeps on it: the
// default WallClock is real time; a ScaledClock runs faster, so that a
// simulation can run many minutes of the limiter's time in seconds (the
// tests and the benchmark run it on a discrete-event clock instead, whose
// time stands still while a caller runs, so that their figures do not
// depend on the machine's load).
//
// # Caveats
//
//   - It paces one process. VCC's limit belongs to the account and is
//     shared by every client and integration of it: the limiter sees only
//     its own requests, takes what it is let through as the level and so
//     settles on its share. Share one Adaptive among all the clients of an
//     account in a process; several processes each find a share, but probe
//     the one limit together, so they draw more 429s between them.
//   - The level assumes a sliding one-minute window. Against another kind
//     of limit (a fixed window, a token bucket) the decreases and the
//     probing still converge, but the level may be off, and the rate
//     further from the limit or the 429s more frequent.
//   - Starting above the limit costs the first minute: a sliding window
//     fills within seconds and refuses until its first requests age out,
//     whatever the rate. From 160/min against 60/min, 2.6% of the calls of
//     the first 30 minutes are 429s, nearly all in the first two minutes.
//   - A decrease paces the requests that start waiting after it: each
//     caller already waiting goes at the old pace once (16 callers at
//     60/min: the next 16 seconds).
//   - Only 429s are congestion: Observe(true) for a 429 alone, never for a
//     5xx or a timeout. A request that got no reply need not be observed.
//   - At a low rate with many callers a Wait is long (16 callers at
//     10/min: 96 seconds); one that would outlast its context's deadline
//     fails at once with an error wrapping context.DeadlineExceeded.
package ratelimit
