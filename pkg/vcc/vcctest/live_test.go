package vcctest_test

import (
	"os"
	"strings"
	"testing"

	"github.com/vccsync/vccsync/pkg/vcc"
	"github.com/vccsync/vccsync/pkg/vcc/vcctest"
)

// The environment of TestLive.
const (
	envBaseURL      = "VCCSYNC_CONTRACT_VCC_BASE_URL"
	envRegion       = "VCCSYNC_CONTRACT_VCC_REGION"
	envTokenURL     = "VCCSYNC_CONTRACT_VCC_TOKEN_URL"
	envClientID     = "VCCSYNC_CONTRACT_VCC_CLIENT_ID"
	envClientSecret = "VCCSYNC_CONTRACT_VCC_CLIENT_SECRET"
	envTemplate     = "VCCSYNC_CONTRACT_VCC_TEMPLATE"
	envWriteUser    = "VCCSYNC_CONTRACT_VCC_WRITE_USER"
	envAllowWrites  = "VCCSYNC_CONTRACT_VCC_ALLOW_WRITES"
)

// TestLive runs the contract suite against a real VCC account (see the
// package documentation): go test ./pkg/vcc/vcctest -run Live -v with the
// VCCSYNC_CONTRACT_VCC_* variables set. Skipped without them.
func TestLive(t *testing.T) {
	env := func(k string) string { return strings.TrimSpace(os.Getenv(k)) }
	base, tokenURL := env(envBaseURL), env(envTokenURL)
	if region := env(envRegion); region != "" && (base == "" || tokenURL == "") {
		b, tok, err := vcc.RegionURLs(region)
		if err != nil {
			t.Fatalf("%s: %v", envRegion, err)
		}
		if base == "" {
			base = b
		}
		if tokenURL == "" {
			tokenURL = tok
		}
	}
	var missing []string
	for _, v := range []struct{ name, value string }{
		{envBaseURL + " (or " + envRegion + ")", base},
		{envTokenURL, tokenURL},
		{envClientID, env(envClientID)},
		{envClientSecret, os.Getenv(envClientSecret)},
		{envTemplate, env(envTemplate)},
	} {
		if v.value == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		t.Skipf("no live VCC account: set %s (or %s), %s, %s, %s and %s to run the contract suite against one; "+
			"for the write checks also %s (a test user) and %s=yes. Missing: %s",
			envBaseURL, envRegion, envTokenURL, envClientID, envClientSecret, envTemplate,
			envWriteUser, envAllowWrites, strings.Join(missing, ", "))
	}
	c, err := vcc.New(vcc.Config{
		BaseURL:      base,
		TokenURL:     tokenURL,
		ClientID:     env(envClientID),
		ClientSecret: os.Getenv(envClientSecret),
		ExternalID:   "vccsync-contract-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	vcctest.Run(t, vcctest.Target{
		Client:      c,
		Template:    env(envTemplate),
		WriteUser:   env(envWriteUser),
		AllowWrites: strings.EqualFold(env(envAllowWrites), "yes"),
	})
}
