package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/bridge"
	"github.com/vccsync/vccsync/pkg/events"
)

func writeInput(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// parseError is what events.Parse says about line.
func parseError(t *testing.T, line string) string {
	t.Helper()
	_, err := events.Parse([]byte(line))
	if err == nil {
		t.Fatalf("events.Parse accepted %s", line)
	}
	return err.Error()
}

func TestPublishMixed(t *testing.T) {
	url, js := startJetStream(t, true)

	janeJoins := userChanged(t, "04l5e00000AbCdEAAV", events.User{ID: jane, Username: events.Val("jane.smith@acme.example"),
		FirstName: events.Val("Jane"), LastName: events.Val("Smith"), IsActive: events.Val(true), Alias: events.Val("jsmith")})
	johnJoins := userChanged(t, "04l5e00000AbCdFAAV", events.User{ID: john, Username: events.Val("john.doe@acme.example"),
		FirstName: events.Val("John"), LastName: events.Val("Doe"), IsActive: events.Val(true)})
	johnLeaves := userChanged(t, "cdc-"+john+"-0a1b9f", events.User{ID: john, IsActive: events.Val(false), ChangedFields: []string{"IsActive"}})

	var badEnv events.Envelope
	if err := json.Unmarshal([]byte(userChanged(t, "04l5e00000AbCdGAAV", events.User{ID: "0015e000001AcmeAAC", Alias: events.Val("acme")})), &badEnv); err != nil {
		t.Fatal(err)
	}
	badEnv.Subject = jane // a user's subject, but data.Id is an account
	badID := marshal(t, badEnv)
	notJSON := "this is not JSON"

	path := writeInput(t,
		"# two users, a duplicate and two bad lines", // 1
		janeJoins,  // 2
		johnJoins,  // 3
		"",         // 4
		janeJoins,  // 5: duplicate
		badID,      // 6
		notJSON,    // 7
		"   ",      // 8
		johnLeaves, // 9
	)
	code, stdout, stderr := runCLI(t, nil, "publish", "--timeout", "5s", path, "--nats-url", url)

	if code != 1 {
		t.Errorf("exit status = %d, want 1", code)
	}
	janeSubject, johnSubject := "vccsync.user."+jane+".changed", "vccsync.user."+john+".changed"
	checkOutput(t, stdout,
		"published line=2 id=04l5e00000AbCdEAAV subject="+janeSubject+" seq=1",
		"published line=3 id=04l5e00000AbCdFAAV subject="+johnSubject+" seq=2",
		"duplicate line=5 id=04l5e00000AbCdEAAV subject="+janeSubject+" seq=1",
		"rejected line=6: "+parseError(t, badID),
		"rejected line=7: "+parseError(t, notJSON),
		"published line=9 id=cdc-"+john+"-0a1b9f subject=vccsync.access."+john+" seq=3", // a leaver: the access-change subject
	)
	for _, want := range []string{
		`rejected line=6: data.Id: not a Salesforce user ID (005…, 15 or 18 characters): "0015e000001AcmeAAC" has key prefix "001"`,
		"rejected line=7: envelope: not valid JSON",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout does not contain %q", want)
		}
	}
	if want := "3 published, 1 duplicate, 2 rejected, 0 failed\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	checkStored(t, js, []storedMsg{
		{1, janeSubject, "04l5e00000AbCdEAAV", "04l5e00000AbCdEAAV", jane},
		{2, johnSubject, "04l5e00000AbCdFAAV", "04l5e00000AbCdFAAV", john},
		{3, "vccsync.access." + john, "cdc-" + john + "-0a1b9f", "cdc-" + john + "-0a1b9f", john},
	})
}

func TestPublishAllValidFromStdin(t *testing.T) {
	url, js := startJetStream(t, true)

	omar15 := "0055e000001Omar"
	omar := userKey(omar15)
	about := strings.Repeat("Speaks Arabic, French and English. ", 6000) // a line of ~200 KiB
	lines := []string{
		userChanged(t, "e1", events.User{ID: jane, Alias: events.Val("jsmith")}),
		"# Omar, with the 15-character IDs Salesforce also uses",
		userChanged(t, "e2", events.User{ID: omar15, Alias: events.Val("ohaddad")}),
		strings.Replace(userChanged(t, "e3", events.User{ID: john, Alias: events.Val("jdoe")}), `"Alias"`, `"AboutMe":"`+about+`","Alias"`, 1),
		userChanged(t, "e4", events.User{ID: jane, Alias: events.Val("jsmith2")}),
	}
	if len(lines[3]) < 200<<10 {
		t.Fatalf("long line has %d bytes", len(lines[3]))
	}
	input := strings.Join(lines, "\r\n") // CRLF, and no newline after the last line

	code, stdout, stderr := runCLI(t, strings.NewReader(input), "publish", "--nats-url", url, "-")

	if code != 0 {
		t.Errorf("exit status = %d, want 0; stderr:\n%s", code, stderr)
	}
	checkOutput(t, stdout,
		"published line=1 id=e1 subject=vccsync.user."+jane+".changed seq=1",
		"published line=3 id=e2 subject=vccsync.user."+omar+".changed seq=2",
		"published line=4 id=e3 subject=vccsync.user."+john+".changed seq=3",
		"published line=5 id=e4 subject=vccsync.user."+jane+".changed seq=4",
	)
	if want := "4 published, 0 duplicate, 0 rejected, 0 failed\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	checkStored(t, js, []storedMsg{
		{1, "vccsync.user." + jane + ".changed", "e1", "e1", jane},
		{2, "vccsync.user." + omar + ".changed", "e2", "e2", omar}, // envelope subject in its 18-character form
		{3, "vccsync.user." + john + ".changed", "e3", "e3", john},
		{4, "vccsync.user." + jane + ".changed", "e4", "e4", jane},
	})

	s, err := js.Stream(testContext(t), events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(testContext(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Data), about) {
		t.Errorf("the long event lost its data.AboutMe on the way")
	}
}

func TestPublishStreamMissing(t *testing.T) {
	url, js := startJetStream(t, false)
	path := writeInput(t, userChanged(t, "e1", events.User{ID: jane, Alias: events.Val("jsmith")}))

	code, stdout, stderr := runCLI(t, nil, "publish", "--nats-url", url, path)

	if code != 1 {
		t.Errorf("exit status = %d, want 1", code)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	if want := "publisher publish: stream VCCSYNC not found: is syncworker running (it creates the streams)?\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if _, err := js.Stream(testContext(t), events.Stream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("stream lookup after publish: %v, want ErrStreamNotFound (publisher must not create it)", err)
	}
}

func TestPublishNoServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + l.Addr().String()
	l.Close()
	path := writeInput(t, userChanged(t, "e1", events.User{ID: jane}))

	code, stdout, stderr := runCLI(t, nil, "publish", "--nats-url", url, path)

	if code != 1 || stdout != "" || !strings.Contains(stderr, "publisher publish: nats connect "+url) {
		t.Errorf("exit status %d, stdout %q, stderr %q; want 1, nothing, a connect error", code, stdout, stderr)
	}
}

func TestPublishMsgIDSuffix(t *testing.T) {
	url, js := startJetStream(t, true)
	path := writeInput(t, userChanged(t, "04l5e00000AbCdEAAV", events.User{ID: jane, Alias: events.Val("jsmith")}))
	subject := "vccsync.user." + jane + ".changed"

	for _, step := range []struct {
		args []string
		out  string
	}{
		{nil, "published line=1 id=04l5e00000AbCdEAAV subject=" + subject + " seq=1"},
		{nil, "duplicate line=1 id=04l5e00000AbCdEAAV subject=" + subject + " seq=1"},
		{[]string{"--msg-id-suffix", "-replay1"}, "published line=1 id=04l5e00000AbCdEAAV msg-id=04l5e00000AbCdEAAV-replay1 subject=" + subject + " seq=2"},
		{[]string{"--msg-id-suffix", "-replay1"}, "duplicate line=1 id=04l5e00000AbCdEAAV msg-id=04l5e00000AbCdEAAV-replay1 subject=" + subject + " seq=2"},
		{[]string{"--msg-id-suffix=-replay2"}, "published line=1 id=04l5e00000AbCdEAAV msg-id=04l5e00000AbCdEAAV-replay2 subject=" + subject + " seq=3"},
	} {
		args := append(append([]string{"publish", "--nats-url", url}, step.args...), path)
		code, stdout, stderr := runCLI(t, nil, args...)
		if code != 0 {
			t.Errorf("%q: exit status = %d, want 0; stderr: %s", step.args, code, stderr)
		}
		checkOutput(t, stdout, step.out)
	}
	checkStored(t, js, []storedMsg{
		{1, subject, "04l5e00000AbCdEAAV", "04l5e00000AbCdEAAV", jane},
		{2, subject, "04l5e00000AbCdEAAV-replay1", "04l5e00000AbCdEAAV", jane},
		{3, subject, "04l5e00000AbCdEAAV-replay2", "04l5e00000AbCdEAAV", jane},
	})
}

func TestPublishLineTooLong(t *testing.T) {
	url, js := startJetStream(t, true)
	path := writeInput(t,
		`{"specversion":"1.0","id":"huge","data":"`+strings.Repeat("x", bridge.MaxLineBytes)+`"}`,
		userChanged(t, "e1", events.User{ID: jane}),
	)

	code, stdout, stderr := runCLI(t, nil, "publish", "--nats-url", url, path)

	if code != 1 {
		t.Errorf("exit status = %d, want 1", code)
	}
	checkOutput(t, stdout,
		"rejected line=1: line longer than 4194304 bytes (4 MiB): not read",
		"published line=2 id=e1 subject=vccsync.user."+jane+".changed seq=1",
	)
	if want := "1 published, 0 duplicate, 1 rejected, 0 failed\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	checkStored(t, js, []storedMsg{{1, "vccsync.user." + jane + ".changed", "e1", "e1", jane}})
}

func TestPublishFailed(t *testing.T) {
	url, js := startJetStream(t, true)
	big := strings.Replace(userChanged(t, "big", events.User{ID: john, Alias: events.Val("jdoe")}),
		`"Alias"`, `"AboutMe":"`+strings.Repeat("x", 2<<20)+`","Alias"`, 1) // valid, but over the server's 1 MiB max payload
	path := writeInput(t, big, userChanged(t, "e1", events.User{ID: jane}))

	code, stdout, stderr := runCLI(t, nil, "publish", "--nats-url", url, path)

	if code != 1 {
		t.Errorf("exit status = %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "failed line=1 id=big: publish big to vccsync.user."+john+".changed: ") ||
		!strings.Contains(lines[0], "maximum payload exceeded") ||
		lines[1] != "published line=2 id=e1 subject=vccsync.user."+jane+".changed seq=1" {
		t.Errorf("stdout:\n%s\nwant a failed line 1 (maximum payload exceeded) and a published line 2", stdout)
	}
	if want := "1 published, 0 duplicate, 0 rejected, 1 failed\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	checkStored(t, js, []storedMsg{{1, "vccsync.user." + jane + ".changed", "e1", "e1", jane}})
}

func TestPublishCommands(t *testing.T) {
	url, js := startJetStream(t, true)
	command := func(id, typ string) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"operator/alice","type":%q,"subject":%q,"time":"2026-11-20T11:00:00Z","datacontenttype":"application/json","data":{"requestedBy":"alice","reason":"left the company"}}`, id, typ, jane)
	}
	path := writeInput(t,
		command("c1", "vccsync.command.archive"),
		command("c2", "vccsync.command.archive.now"),
		command("c3", "vccsync.command.*"),
		command("c4", "vccsync.command.arch ive"),
		command("c5", "vccsync.command."),
	)

	code, stdout, stderr := runCLI(t, nil, "publish", "--nats-url", url, path)

	if code != 1 {
		t.Errorf("exit status = %d, want 1", code)
	}
	const rule = "actions are letters, digits, '-' and '_'"
	checkOutput(t, stdout,
		"published line=1 id=c1 subject=vccsync.user."+jane+".cmd.archive seq=1",
		`rejected line=2: type: "vccsync.command.archive.now": action "archive.now" has '.': `+rule,
		`rejected line=3: type: "vccsync.command.*": action "*" has '*': `+rule,
		`rejected line=4: type: "vccsync.command.arch ive": action "arch ive" has ' ': `+rule,
		`rejected line=5: type: "vccsync.command.": names no action`,
	)
	if want := "1 published, 0 duplicate, 4 rejected, 0 failed\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	checkStored(t, js, []storedMsg{{1, "vccsync.user." + jane + ".cmd.archive", "c1", "c1", jane}})
}

func TestPublishExampleFile(t *testing.T) {
	url, js := startJetStream(t, true)

	code, stdout, stderr := runCLI(t, nil, "publish", "--nats-url", url, filepath.Join("testdata", "example.jsonl"))

	if code != 0 {
		t.Fatalf("exit status = %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	n := strings.Count(stdout, "published line=")
	if n == 0 || n != strings.Count(stdout, "\n") {
		t.Errorf("stdout:\n%s\nwant only published lines", stdout)
	}
	if want := fmt.Sprintf("%d published, 0 duplicate, 0 rejected, 0 failed\n", n); stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if got := len(streamMessages(t, js)); got != n {
		t.Errorf("stream holds %d messages, want %d", got, n)
	}
}
