package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// TestStormConverges: for the whole run VCC answers 30% of requests with
// 503 and, every two seconds, all requests for 150 ms with 429 (without
// Retry-After, as VCC does). Every user still ends exactly as Salesforce
// says, created once with all of the template's skills, groups and
// callback numbers, and nothing is dead-lettered.
func TestStormConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	sb, vccURL := demoVCC(t)
	sb.SetFaults(sandbox.VCCFaults{FailRate: 0.3, FailStatus: 503})
	stopBursts := make(chan struct{})
	var bursts sync.WaitGroup
	bursts.Add(1)
	go func() {
		defer bursts.Done()
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopBursts:
				return
			case <-tick.C:
				sb.SetFaults(sandbox.VCCFaults{FailRate: 1, FailStatus: 429})
				time.Sleep(150 * time.Millisecond)
				sb.SetFaults(sandbox.VCCFaults{FailRate: 0.3, FailStatus: 503})
			}
		}
	}()
	defer func() { close(stopBursts); bursts.Wait() }()

	w := startWorker(t, t.TempDir(), vccURL, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	users := make([]crashUser, 100)
	for i := range users {
		k, err := events.NormalizeID(fmt.Sprintf("0055e%010d", 800000+i))
		if err != nil {
			t.Fatal(err)
		}
		users[i] = crashUser{i: i, key: k}
	}
	envs, msgIDs, want := crashStory(users)
	ctx := context.Background()
	for i, env := range envs {
		if _, err := bus.PublishWithID(ctx, w.sys.js, env, msgIDs[i]); err != nil {
			t.Fatal(err)
		}
	}
	w.obs.waitFor(t, len(envs), 2*time.Minute)
	close(stopBursts)
	bursts.Wait()
	stopBursts = make(chan struct{})
	sb.ClearFaults()

	got := w.obs.byOutcome()
	stats := sb.Stats()
	t.Logf("%d messages: outcomes %v; %d worker retries; %d VCC requests, %d answered by an injected 503 or 429",
		len(envs), got, w.obs.retry, stats.Requests["GET"]+stats.Requests["POST"]+stats.Requests["PUT"]+stats.Requests["PATCH"], stats.InjectedFaults)
	if got["dead_lettered"] != 0 {
		t.Errorf("%d messages dead-lettered during the storm, want none", got["dead_lettered"])
	}
	if stats.InjectedFaults < 200 {
		t.Errorf("only %d injected faults: the storm did not happen", stats.InjectedFaults)
	}
	for _, u := range users {
		wu := want[u.key]
		rec, ok := sb.UserByUsername(u.username())
		if !ok {
			t.Errorf("user %d: no VCC user", u.i)
			continue
		}
		levels := map[string]int{}
		for _, s := range rec.Skills {
			levels[s.SkillID] = s.Level
		}
		vu := rec.User
		if vu.Active != wu.active || vu.Name != wu.name || vu.Email != wu.email || len(rec.Skills) != sandbox.DemoAgentTemplateSkills ||
			levels[crashSkill] != wu.level || len(rec.Groups) != sandbox.DemoAgentTemplateGroups ||
			len(rec.CallbackNumbers) != sandbox.DemoAgentTemplateCallbackNumbers || stats.WritesByUser[vu.UserID]["POST"] != 1 {
			t.Errorf("user %d: active %v name %q email %q, %d skills (%s at level %d), %d groups, %d callbacks, %d creates; want %+v with the template's lists, created once",
				u.i, vu.Active, vu.Name, vu.Email, len(rec.Skills), crashSkill, levels[crashSkill], len(rec.Groups), len(rec.CallbackNumbers),
				stats.WritesByUser[vu.UserID]["POST"], wu)
		}
	}
}
