package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/sandbox"
	"github.com/vccsync/vccsync/pkg/worker"
)

// demoSupervisorProfile is the Salesforce profile the demo maps to the
// supervisor template; every other profile gets the agent template.
const demoSupervisorProfile = "00e5e000000SupV"

// demoAliceID is the demo story's user who exists in VCC already.
const demoAliceID = "0055e000001AlicAAC"

// demoRun publishes the demo story and prints the per-user results once
// the worker has handled every message.
type demoRun struct {
	log *zap.Logger

	names map[string]string // user key → "Name <username>", from the story
	// inSalesforce are the story's changes as made in Salesforce, applied
	// to the Salesforce sandbox before their events are published, so
	// the org and the events agree (reconcile finds them in step).
	inSalesforce []func(*sandbox.Salesforce) error

	mu      sync.Mutex
	results map[string][]worker.Outcome // by user key ("" for undecodable)
	handled int
	done    chan struct{}
	want    int
}

func newDemo(log *zap.Logger) *demoRun {
	return &demoRun{log: log, names: map[string]string{}, results: map[string][]worker.Outcome{}, done: make(chan struct{}), want: -1}
}

func (d *demoRun) observe(o worker.Outcome) {
	if o.Outcome == "retried" {
		return // it will come back
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.results[o.UserKey] = append(d.results[o.UserKey], o)
	d.handled++
	if d.want >= 0 && d.handled == d.want {
		close(d.done)
	}
}

// demoUser is one person of the story.
type demoUser struct {
	id15, first, last, agentID, profile string
}

func (u demoUser) key() string { k, _ := events.NormalizeID(u.id15); return k }

func (u demoUser) username() string {
	return strings.ToLower(u.first + "." + u.last + "@demo.example")
}

func (u demoUser) snapshot(at time.Time, active bool) events.User {
	s := events.User{
		ID: u.key(), Username: events.Val(u.username()), Email: events.Val(u.username()),
		Alias:     events.Val(strings.ToLower(u.first[:1] + u.last)[:min(8, 1+len(u.last))]),
		FirstName: events.Val(u.first), LastName: events.Val(u.last), IsActive: events.Val(active),
		FederationIdentifier: events.Val(strings.ToLower(u.first[:1] + u.last)),
		ProfileID:            events.Val(u.profile), SystemModstamp: events.Val(events.Time{Time: at}),
	}
	if u.agentID != "" {
		s.AgentID = events.Val(u.agentID)
	}
	return s
}

// story is the demo: users created from templates, one updated, one
// deactivated and archived, an existing VCC user linked, a duplicate, an
// out-of-order snapshot, a poison message and a user that cannot be
// created.
func (d *demoRun) story() ([]events.Envelope, [][]byte) {
	agent := "00e5e000000AgtV"
	jane := demoUser{"0055e000001Jane", "Jane", "Smith", "1042", agent}
	omar := demoUser{"0055e000001Omar", "Omar", "Haddad", "", agent}
	lena := demoUser{"0055e000001Lena", "Lena", "Fischer", "", agent}
	priya := demoUser{"0055e000001Prya", "Priya", "Natarajan", "", demoSupervisorProfile}
	tom := demoUser{"0055e000001Tomb", "Tom", "Becker", "", agent}
	ana := demoUser{"0055e000001Anas", "Ana", "Souza", "", agent}
	alice := demoUser{"0055e000001Alic", "Alice", "Archer", "1001", agent} // exists in VCC already

	t0 := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	var envs []events.Envelope
	n := 0
	add := func(u events.User, at time.Time) events.Envelope {
		n++
		if _, ok := d.names[u.ID]; !ok {
			d.names[u.ID] = strings.TrimSpace(u.Name() + " <" + u.Username.Get() + ">")
		}
		env, err := events.NewUserChanged(fmt.Sprintf("demo-%d-%03d", t0.Unix(), n), "salesforce/demo", at, u)
		if err != nil {
			panic(err) // the story is static
		}
		envs = append(envs, env)
		return env
	}
	for _, u := range []demoUser{jane, omar, lena, priya, tom, ana} {
		add(u.snapshot(t0, true), t0)
	}
	aliceSnap := alice.snapshot(t0, true)
	aliceSnap.Username, aliceSnap.Email = events.Val(sandbox.DemoActiveUsername), events.Val(sandbox.DemoActiveUsername)
	add(aliceSnap, t0)

	// Tom marries and changes his last name and email.
	tomNew := tom.snapshot(t0.Add(10*time.Second), true)
	tomNew.LastName, tomNew.Email = events.Val("Becker-Lund"), events.Val("tom.becker-lund@demo.example")
	tomNew.ChangedFields = []string{"LastName", "Email"}
	add(tomNew, t0.Add(10*time.Second))
	d.inSalesforce = append(d.inSalesforce, func(sf *sandbox.Salesforce) error {
		return sf.ModifyUser(tom.key(), func(u *sandbox.SFUser) {
			u.LastName, u.Email, u.SystemModstamp, u.LastModifiedDate = "Becker-Lund", "tom.becker-lund@demo.example", t0.Add(10*time.Second), t0.Add(10*time.Second)
		})
	}, func(sf *sandbox.Salesforce) error {
		return sf.ModifyUser(ana.key(), func(u *sandbox.SFUser) {
			u.IsActive, u.SystemModstamp, u.LastModifiedDate = false, t0.Add(20*time.Second), t0.Add(20*time.Second)
		})
	})
	// Ana leaves: deactivated in Salesforce.
	add(events.User{ID: ana.key(), IsActive: events.Val(false), SystemModstamp: events.Val(events.Time{Time: t0.Add(20 * time.Second)}),
		ChangedFields: []string{"IsActive"}}, t0.Add(20*time.Second))
	// Salesforce delivers Jane's first notification again (after its ack).
	envs = append(envs, envs[0])
	// An out-of-order delivery: Tom's old snapshot arrives late with a new id.
	add(tom.snapshot(t0, true), t0)
	// A change for a user vccsync has never seen, with too little to create them.
	add(events.User{ID: "0055e000001Unkn", IsActive: events.Val(true), SystemModstamp: events.Val(events.Time{Time: t0})}, t0)

	// A poison message: not a Salesforce user ID.
	poison := []byte(`{"specversion":"1.0","id":"demo-poison","source":"salesforce/demo","type":"salesforce.user.changed",` +
		`"subject":"0055e000001Badd","data":{"Id":"0015e000001Badd","IsActive":true}}`)
	return envs, [][]byte{poison}
}

func (d *demoRun) run(ctx context.Context, js jetstream.JetStream, sf *sandbox.Salesforce, out io.Writer) {
	envs, poison := d.story()
	if sf != nil {
		for _, change := range d.inSalesforce {
			if err := change(sf); err != nil {
				d.log.Error("demo: change the Salesforce sandbox", zap.Error(err))
			}
		}
	}
	published := 0
	for i, env := range envs {
		msgID := env.ID
		if i > 0 && env.ID == envs[0].ID {
			msgID = env.ID + "-redelivery" // past the duplicate window: only the ledger can catch it
		}
		res, err := bus.PublishWithID(ctx, js, env, msgID)
		if err != nil {
			d.log.Error("demo publish failed", zap.String("event_id", env.ID), zap.Error(err))
			continue
		}
		if !res.Duplicate {
			published++
		}
	}
	for _, body := range poison {
		if _, err := js.Publish(ctx, events.UserChangedSubject("0055e000001Badd"), body); err != nil {
			d.log.Error("demo publish failed", zap.Error(err))
			continue
		}
		published++
	}
	d.mu.Lock()
	d.want = published
	if d.handled >= d.want {
		close(d.done)
	}
	d.mu.Unlock()
	select {
	case <-d.done:
	case <-ctx.Done():
		return
	case <-time.After(2 * time.Minute):
		fmt.Fprintln(out, "demo: not every message was handled within 2 minutes; results so far:")
	}
	d.print(out)
}

// print writes the results table: one row per user, like the Results page
// of VCC's own user-creation tool, with the reason for each failure.
func (d *demoRun) print(out io.Writer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	keys := make([]string, 0, len(d.results))
	for k := range d.results {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return d.names[keys[i]] < d.names[keys[j]] })
	fmt.Fprintln(out, "\nvccsync demo — results per Salesforce user")
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tSALESFORCE ID\tOUTCOMES\tDETAILS / REASON")
	for _, k := range keys {
		user, id := d.names[k], k
		switch {
		case k == "":
			user, id = "(unreadable message)", "-"
		case user == "" || user == "<>":
			user = "(unknown)"
		}
		var outcomes, details []string
		for _, o := range d.results[k] {
			label := o.Outcome
			if o.Class != "" {
				label += " (" + o.Class + ")"
			}
			outcomes = append(outcomes, label)
			switch {
			case o.Err != nil:
				details = append(details, o.Err.Error())
			case o.Detail != "":
				details = append(details, o.Detail)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", user, id, strings.Join(outcomes, ", "), strings.Join(details, " | "))
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "\nDead-lettered messages are in stream VCCSYNC_DLQ with their reason (Vccsync-Error). The worker keeps running: Ctrl-C to stop.")
}
