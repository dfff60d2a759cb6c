package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
)

// benchUser is one Salesforce user of a scenario.
type benchUser struct {
	i      int
	key    string // 18-character Salesforce user ID
	prefix string // of its username: <prefix><i>@bench.example
}

// makeUsers returns n users with IDs from base.
func makeUsers(prefix string, base, n int) ([]benchUser, error) {
	users := make([]benchUser, n)
	for i := range users {
		k, err := events.NormalizeID(fmt.Sprintf("0055e%010d", base+i))
		if err != nil {
			return nil, err
		}
		users[i] = benchUser{i: i, key: k, prefix: prefix}
	}
	return users, nil
}

func (u benchUser) username() string { return fmt.Sprintf("%s%06d@bench.example", u.prefix, u.i) }
func (u benchUser) lastName() string {
	return fmt.Sprintf("%s%06d", strings.ToUpper(u.prefix[:1])+u.prefix[1:], u.i)
}
func (u benchUser) sso() string { return fmt.Sprintf("%s%06d", u.prefix, u.i) }

// snapshot is the user's full Salesforce snapshot at a moment.
func (u benchUser) snapshot(active bool, at time.Time) events.User {
	return events.User{
		ID: u.key, Username: events.Val(u.username()), Email: events.Val(u.username()),
		FirstName: events.Val("Bench"), LastName: events.Val(u.lastName()), IsActive: events.Val(active),
		FederationIdentifier: events.Val(u.sso()), SystemModstamp: events.Val(events.Time{Time: at}),
	}
}

// vcc is the VCC user the snapshot asks for, as an agent with agentID:
// what a link finds nothing to change in.
func (u benchUser) vcc(agentID int) vccUser {
	v := vccUser{Username: u.username(), Name: "Bench " + u.lastName(), Email: u.username(), Active: true, SSOExternalID: u.sso()}
	v.Config.Role, v.Config.ActAsAgent = "Agent", true
	v.Config.Agent = &struct {
		AgentDisplayID string `json:"agentDisplayId"`
	}{AgentDisplayID: fmt.Sprint(agentID)}
	return v
}

// outMsg is one message to publish.
type outMsg struct {
	subject, id string
	body        []byte
}

// userMessage is the salesforce.user.changed event id of snapshot s, as
// the product publishes it (pkg/events: subject, envelope, Nats-Msg-Id).
func userMessage(id, source string, s events.User) (outMsg, error) {
	env, err := events.NewUserChanged(id, source, time.Now(), s)
	if err != nil {
		return outMsg{}, err
	}
	subject, err := env.NATSSubject()
	if err != nil {
		return outMsg{}, err
	}
	body, err := env.Marshal()
	if err != nil {
		return outMsg{}, err
	}
	return outMsg{subject: subject, id: id, body: body}, nil
}

// publishAll publishes n messages asynchronously, at most 2,000 awaiting
// their PubAck, and fails on any error or duplicate.
func publishAll(ctx context.Context, js jetstream.JetStream, n int, gen func(i int) (outMsg, error)) error {
	const window = 2000
	pending := make([]jetstream.PubAckFuture, 0, window)
	flush := func() error {
		for _, f := range pending {
			select {
			case ack := <-f.Ok():
				if ack.Duplicate {
					return fmt.Errorf("publish %s: a duplicate", f.Msg().Header.Get(jetstream.MsgIDHeader))
				}
			case err := <-f.Err():
				return fmt.Errorf("publish %s: %w", f.Msg().Header.Get(jetstream.MsgIDHeader), err)
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Minute):
				return errors.New("publish: no PubAck within a minute")
			}
		}
		pending = pending[:0]
		return nil
	}
	for i := range n {
		m, err := gen(i)
		if err != nil {
			return err
		}
		msg := &nats.Msg{Subject: m.subject, Data: m.body, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, m.id)
		f, err := js.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("publish %s: %w", m.id, err)
		}
		pending = append(pending, f)
		if len(pending) == window {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// likeVCCSYNC is the configuration of VCCSYNC (pkg/bus) under another name
// and subject prefix: a work queue, file storage, the same duplicate
// window.
func likeVCCSYNC(name, prefix string) jetstream.StreamConfig {
	c := bus.MainStreamConfig(bus.StreamsConfig{})
	c.Name, c.Subjects = name, []string{prefix + ".user.>"}
	c.Description = "vccsync bench: configured like " + events.Stream
	return c
}

// resubject moves a vccsync.user.… subject under prefix.
func resubject(subject, prefix string) string {
	return prefix + strings.TrimPrefix(subject, strings.SplitN(events.SubjectAll, ".", 2)[0])
}

// streamState returns a stream's message count and bytes.
func streamState(ctx context.Context, js jetstream.JetStream, name string) (msgs, bytes uint64, err error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return 0, 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	return info.State.Msgs, info.State.Bytes, nil
}

// drain is how the consumers of a stream worked through its backlog.
type drain struct {
	t0, t1 time.Time // first delivery seen, everything acked seen
}

func (d drain) elapsed() time.Duration { return d.t1.Sub(d.t0) }

// delivered is each consumer's delivered count (redeliveries included).
type delivered map[string]uint64

// beyond reports whether a consumer delivered more than before (a consumer
// not there before counts from 0).
func (d delivered) beyond(before delivered) bool {
	for name, n := range d {
		if n > before[name] {
			return true
		}
	}
	return false
}

// consumersState returns the consumers of a stream: what each delivered,
// and how many messages wait for an ack in all.
func consumersState(ctx context.Context, js jetstream.JetStream, stream string) (delivered, uint64, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, 0, err
	}
	d, ackPending := delivered{}, uint64(0)
	l := s.ListConsumers(ctx)
	for info := range l.Info() {
		d[info.Name] = info.Delivered.Consumer
		ackPending += uint64(info.NumAckPending)
	}
	return d, ackPending, l.Err()
}

// timeDrain polls a work-queue stream and its consumers every 10 ms
// (whichever consumers the worker made: one, or one per lane): t0 is the
// first poll that sees a consumer deliver beyond before, t1 the first after
// it at which the stream holds nothing (a work queue drops a message when
// it is acked) and no consumer waits for an ack. alive reports a consumer
// process that died.
func timeDrain(ctx context.Context, js jetstream.JetStream, stream string, before delivered, timeout time.Duration, alive func() error) (drain, error) {
	var d drain
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	state := "not polled"
	for {
		select {
		case <-ctx.Done():
			return d, ctx.Err()
		case <-tick.C:
		}
		now := time.Now()
		if now.After(deadline) {
			return d, fmt.Errorf("%s not drained after %s: %s", stream, timeout, state)
		}
		if alive != nil {
			if err := alive(); err != nil {
				return d, err
			}
		}
		cons, ackPending, err := consumersState(ctx, js, stream)
		if err != nil {
			continue
		}
		msgs, _, err := streamState(ctx, js, stream)
		if err != nil {
			continue
		}
		state = fmt.Sprintf("consumers delivered %v (before %v), %d waiting for an ack, %d messages left", cons, before, ackPending, msgs)
		if d.t0.IsZero() && cons.beyond(before) {
			d.t0 = now
		}
		if !d.t0.IsZero() && msgs == 0 && ackPending == 0 {
			d.t1 = now
			return d, nil
		}
	}
}
