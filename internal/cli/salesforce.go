package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/vccsync/vccsync/pkg/salesforce"
)

// Salesforce are the Salesforce REST settings (--sf-*): a connected app's
// client credentials or, with a private key, the JWT bearer flow. Secrets
// come from files or the environment, never from a flag.
type Salesforce struct {
	URL, TokenURL, ClientID, SecretFile string
	// Username, KeyFile and Audience are the JWT bearer flow's
	// (RegisterJWT).
	Username, KeyFile, Audience string
}

// Register adds --sf-url, --sf-token-url, --sf-client-id and
// --sf-client-secret-file, as settings; purpose says what they are for.
func (s *Salesforce) Register(fs *pflag.FlagSet, purpose string) {
	fs.StringVar(&s.URL, "sf-url", "", "Salesforce instance `URL`, e.g. https://acme.my.salesforce.com (env VCCSYNC_SF_URL)"+purpose)
	fs.StringVar(&s.TokenURL, "sf-token-url", "", "OAuth token `URL`; default <sf-url>/services/oauth2/token (env VCCSYNC_SF_TOKEN_URL)")
	fs.StringVar(&s.ClientID, "sf-client-id", "", "connected app consumer key (env VCCSYNC_SF_CLIENT_ID)")
	fs.StringVar(&s.SecretFile, "sf-client-secret-file", "", "`file` holding the connected app consumer secret (env VCCSYNC_SF_CLIENT_SECRET_FILE; else the secret itself in env VCCSYNC_SF_CLIENT_SECRET)")
	MarkSettings(fs, "sf-url", "sf-token-url", "sf-client-id", "sf-client-secret-file")
}

// RegisterJWT adds --sf-username, --sf-private-key-file and
// --sf-jwt-audience, as settings.
func (s *Salesforce) RegisterJWT(fs *pflag.FlagSet) {
	fs.StringVar(&s.Username, "sf-username", "", "Salesforce integration user, for the JWT bearer flow (env VCCSYNC_SF_USERNAME)")
	fs.StringVar(&s.KeyFile, "sf-private-key-file", "", "PEM RSA key `file` of the connected app's certificate: use the JWT bearer flow (env VCCSYNC_SF_PRIVATE_KEY_FILE)")
	fs.StringVar(&s.Audience, "sf-jwt-audience", salesforce.DefaultJWTAudience, "`aud` of the JWT bearer assertion: https://test.salesforce.com for a sandbox org; never the org's My Domain (env VCCSYNC_SF_JWT_AUDIENCE)")
	MarkSettings(fs, "sf-username", "sf-private-key-file", "sf-jwt-audience")
}

// Configured reports whether Salesforce REST access was asked for.
func (s *Salesforce) Configured() bool {
	return s.URL != "" || s.TokenURL != "" || s.ClientID != "" || s.SecretFile != ""
}

// Client builds the Salesforce REST client: the JWT bearer flow with a
// private key file, else client credentials, the secret from its file,
// else from VCCSYNC_SF_CLIENT_SECRET (getenv). User fields the API user
// cannot read are left out of queries with one warning on stderr.
func (s *Salesforce) Client(getenv func(string) string, stderr io.Writer) (*salesforce.Client, error) {
	cfg := salesforce.Config{BaseURL: s.URL, TokenURL: s.TokenURL, ClientID: s.ClientID,
		HiddenFields: func(fields []string) {
			fmt.Fprintf(stderr, "warning: Salesforce: the integration user cannot read User field(s) %s: read without them (grant read access to sync them)\n", strings.Join(fields, ", "))
		}}
	switch {
	case s.KeyFile != "":
		key, err := os.ReadFile(s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--sf-private-key-file: %w", err)
		}
		cfg.Username, cfg.PrivateKeyPEM, cfg.JWTAudience = s.Username, key, s.Audience
	case s.SecretFile != "":
		b, err := os.ReadFile(s.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("--sf-client-secret-file: %w", err)
		}
		cfg.ClientSecret = strings.TrimRight(string(b), "\r\n")
		if cfg.ClientSecret == "" {
			return nil, fmt.Errorf("--sf-client-secret-file %s: empty", s.SecretFile)
		}
	default:
		cfg.ClientSecret = getenv("VCCSYNC_SF_CLIENT_SECRET")
	}
	c, err := salesforce.NewClient(cfg)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return c, nil
}
