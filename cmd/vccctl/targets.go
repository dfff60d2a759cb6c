package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/vcc"
)

// vccSettings are the VCC API settings (--vcc-*), under the names
// syncworker's configuration file gives them.
type vccSettings struct {
	url, tokenURL, region, clientID, secretFile string
	rate                                        int
}

// register adds the flags to fs, as settings.
func (v *vccSettings) register(fs *pflag.FlagSet) {
	fs.StringVar(&v.url, "vcc-url", "", "VCC User Admin API root, e.g. https://emea.api.cc.vonage.com/useradmin (env VCCSYNC_VCC_URL)")
	fs.StringVar(&v.tokenURL, "vcc-token-url", "", "VCC token endpoint (env VCCSYNC_VCC_TOKEN_URL)")
	fs.StringVar(&v.region, "vcc-region", "", "VCC region (emea, nam, apac): sets --vcc-url and --vcc-token-url (env VCCSYNC_VCC_REGION)")
	fs.StringVar(&v.clientID, "vcc-client-id", "", "VCC API client id (env VCCSYNC_VCC_CLIENT_ID)")
	fs.StringVar(&v.secretFile, "vcc-client-secret-file", "", "`file` holding the VCC API client secret (env VCCSYNC_VCC_CLIENT_SECRET_FILE; else the secret in env VCCSYNC_VCC_CLIENT_SECRET)")
	fs.IntVar(&v.rate, "vcc-rate", 160, "VCC requests per minute; 0 or less: unlimited (env VCCSYNC_VCC_RATE)")
	cli.MarkSettings(fs, "vcc-url", "vcc-token-url", "vcc-region", "vcc-client-id", "vcc-client-secret-file", "vcc-rate")
}

// client builds the VCC client; the secret comes from its file, else from
// VCCSYNC_VCC_CLIENT_SECRET (getenv).
func (v *vccSettings) client(getenv func(string) string) (*vcc.Client, error) {
	cfg := vcc.Config{BaseURL: v.url, TokenURL: v.tokenURL, ClientID: v.clientID, RatePerMinute: v.rate}
	if v.rate <= 0 {
		cfg.RatePerMinute = -1
	}
	if v.region != "" {
		base, token, err := vcc.RegionURLs(v.region)
		if err != nil {
			return nil, fmt.Errorf("--vcc-region: %w", err)
		}
		if cfg.BaseURL == "" {
			cfg.BaseURL = base
		}
		if cfg.TokenURL == "" {
			cfg.TokenURL = token
		}
	}
	if cfg.BaseURL == "" {
		return nil, errors.New("VCC is not configured: give --vcc-url or --vcc-region, --vcc-client-id and the client secret (or --config with them)")
	}
	cfg.ClientSecret = getenv("VCCSYNC_VCC_CLIENT_SECRET")
	if v.secretFile != "" {
		b, err := os.ReadFile(v.secretFile)
		if err != nil {
			return nil, fmt.Errorf("--vcc-client-secret-file: %w", err)
		}
		cfg.ClientSecret = strings.TrimSpace(string(b))
	}
	c, err := vcc.New(cfg)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return c, nil
}

// loadMapping is the mapping section of the configuration file
// (--config), normalized.
func loadMapping(a *cli.App) (handlers.Mapping, error) {
	if a.File == nil {
		return handlers.Mapping{}, errors.New("--config: required: the mapping comes from syncworker's configuration file")
	}
	var m handlers.Mapping
	ok, err := a.File.Decode("mapping", &m)
	switch {
	case err != nil:
		return handlers.Mapping{}, err
	case !ok:
		return handlers.Mapping{}, fmt.Errorf("config %s: no mapping section", a.ConfigPath)
	}
	n, err := m.Normalized()
	if err != nil {
		return handlers.Mapping{}, fmt.Errorf("config %s: %w", a.ConfigPath, err)
	}
	return n, nil
}
