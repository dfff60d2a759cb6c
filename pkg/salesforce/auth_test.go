package salesforce

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewClientValidates(t *testing.T) {
	key := sfTestKey(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	smallKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	valid := Config{
		BaseURL:      "https://acme.my.salesforce.com",
		ClientID:     "id",
		ClientSecret: "secret",
	}
	jwt := func(c *Config) {
		c.ClientSecret = ""
		c.PrivateKeyPEM = sfPKCS1PEM(key)
		c.Username = "integration@acme.example"
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want []string // substrings of the error; none means valid
	}{
		{"client credentials", func(*Config) {}, nil},
		{"JWT bearer PKCS#1", jwt, nil},
		{"JWT bearer PKCS#8", func(c *Config) { jwt(c); c.PrivateKeyPEM = sfPKCS8PEM(t, key) }, nil},
		{"JWT bearer without base URL", func(c *Config) { jwt(c); c.BaseURL = "" }, nil},
		{"token URL without base URL", func(c *Config) { c.BaseURL = ""; c.TokenURL = "https://acme.my.salesforce.com/services/oauth2/token" }, nil},
		{"version without v", func(c *Config) { c.APIVersion = "61.0" }, nil},
		{"no base or token URL", func(c *Config) { c.BaseURL = "" }, []string{"TokenURL or BaseURL is required for client credentials"}},
		{"base URL scheme", func(c *Config) { c.BaseURL = "ftp://acme" }, []string{"BaseURL", "scheme must be https or http"}},
		{"base URL no host", func(c *Config) { c.BaseURL = "https:///x" }, []string{"BaseURL", "no host"}},
		{"base URL query", func(c *Config) { c.BaseURL = "https://acme?x=1" }, []string{"BaseURL", "query"}},
		{"base URL credentials", func(c *Config) { c.BaseURL = "https://u:p@acme" }, []string{"BaseURL: must not carry credentials"}},
		{"token URL scheme", func(c *Config) { c.TokenURL = "login.salesforce.com" }, []string{"TokenURL", "scheme"}},
		{"no client ID", func(c *Config) { c.ClientID = " " }, []string{"ClientID is required"}},
		{"no client secret", func(c *Config) { c.ClientSecret = "" }, []string{"ClientSecret is required"}},
		{"secret and key", func(c *Config) { jwt(c); c.ClientSecret = "s" }, []string{"ClientSecret and PrivateKeyPEM are both set"}},
		{"JWT without username", func(c *Config) { jwt(c); c.Username = "" }, []string{"Username is required with PrivateKeyPEM"}},
		{"My Domain audience", func(c *Config) { jwt(c); c.JWTAudience = "https://acme.my.salesforce.com" }, []string{`JWTAudience "https://acme.my.salesforce.com" is a My Domain`}},
		{"audience not https", func(c *Config) { jwt(c); c.JWTAudience = "login.salesforce.com" }, []string{`JWTAudience "login.salesforce.com": want https://login.salesforce.com`}},
		{"key not PEM", func(c *Config) { jwt(c); c.PrivateKeyPEM = []byte("not a key") }, []string{"PrivateKeyPEM: no PEM block"}},
		{"key not RSA", func(c *Config) { jwt(c); c.PrivateKeyPEM = sfPKCS8PEM(t, ecKey) }, []string{"PrivateKeyPEM", "want an RSA key"}},
		{"key too small", func(c *Config) { jwt(c); c.PrivateKeyPEM = sfPKCS1PEM(smallKey) }, []string{"PrivateKeyPEM: RSA key of 1024 bits"}},
		{"key encrypted", func(c *Config) {
			jwt(c)
			c.PrivateKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})
		}, []string{"encrypted keys are not supported"}},
		{"key wrong block", func(c *Config) {
			jwt(c)
			c.PrivateKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})
		}, []string{`PEM block "CERTIFICATE"`}},
		{"bad version", func(c *Config) { c.APIVersion = "latest" }, []string{`APIVersion "latest"`}},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, []string{"Timeout -1s"}},
		{"several at once", func(c *Config) { c.ClientID, c.ClientSecret = "", "" }, []string{"ClientID is required", "ClientSecret is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mod(&cfg)
			_, err := NewClient(cfg)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("NewClient: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewClient: no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNewClientDefaults(t *testing.T) {
	key := sfTestKey(t)
	tests := []struct {
		name                   string
		cfg                    Config
		tokenURL, aud, version string
	}{
		{"client credentials on My Domain",
			Config{BaseURL: "https://acme.my.salesforce.com/", ClientID: "id", ClientSecret: "s"},
			"https://acme.my.salesforce.com/services/oauth2/token", "https://login.salesforce.com", "v61.0"},
		{"JWT bearer with nothing but the key",
			Config{ClientID: "id", Username: "u@x", PrivateKeyPEM: sfPKCS1PEM(key), APIVersion: "62.0"},
			DefaultTokenURL, "https://login.salesforce.com", "v62.0"},
		{"JWT bearer for a sandbox org",
			Config{ClientID: "id", Username: "u@x", PrivateKeyPEM: sfPKCS1PEM(key), TokenURL: "https://test.salesforce.com/services/oauth2/token", JWTAudience: "https://test.salesforce.com/"},
			"https://test.salesforce.com/services/oauth2/token", "https://test.salesforce.com", "v61.0"},
		// The token endpoint on My Domain does not make My Domain the audience.
		{"JWT bearer through My Domain",
			Config{BaseURL: "https://acme.my.salesforce.com", ClientID: "id", Username: "u@x", PrivateKeyPEM: sfPKCS1PEM(key)},
			"https://acme.my.salesforce.com/services/oauth2/token", "https://login.salesforce.com", "v61.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if c.auth.url != tt.tokenURL || c.auth.audience != tt.aud || c.version != tt.version {
				t.Errorf("token URL %q, audience %q, version %q; want %q, %q, %q", c.auth.url, c.auth.audience, c.version, tt.tokenURL, tt.aud, tt.version)
			}
			if c.timeout != DefaultTimeout {
				t.Errorf("timeout %s", c.timeout)
			}
		})
	}
}

func TestClientCredentialsFormAndCaching(t *testing.T) {
	f := newSFFake(t)
	f.addUsers(1)
	c := f.client()
	ctx := context.Background()
	for range 3 {
		if _, err := c.GetUser(ctx, sfUserID(1)); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokens(); n != 1 {
		t.Fatalf("%d token requests for 3 calls, want 1 (cached)", n)
	}
	f.mu.Lock()
	form := f.tokenForms[0]
	f.mu.Unlock()
	want := map[string]string{"grant_type": "client_credentials", "client_id": sfTestClientID, "client_secret": sfTestSecret}
	if len(form) != len(want) {
		t.Errorf("form %v, want exactly %v", form, want)
	}
	for k, v := range want {
		if form.Get(k) != v {
			t.Errorf("form %s = %q, want %q", k, form.Get(k), v)
		}
	}
	for _, r := range f.recorded() {
		if got := r.Header.Get("Authorization"); got != "Bearer 00D5e000000KQ2e!tok-1" {
			t.Errorf("%s %s: Authorization %q", r.Method, r.Path, got)
		}
		if got := r.Header.Get("Accept"); got != "application/json" {
			t.Errorf("%s %s: Accept %q", r.Method, r.Path, got)
		}
	}
}

func TestConcurrentCallsShareOneTokenFetch(t *testing.T) {
	f := newSFFake(t)
	f.addUsers(1)
	c := f.client()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if _, err := c.GetUser(context.Background(), sfUserID(1)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := f.tokens(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

func TestInstanceURLFromTokenReply(t *testing.T) {
	f := newSFFake(t)
	f.addUsers(1)
	login := httptest.NewServer(http.HandlerFunc(f.serveToken))
	t.Cleanup(login.Close)

	t.Run("empty BaseURL uses instance_url", func(t *testing.T) {
		c := f.client(func(c *Config) { c.BaseURL = ""; c.TokenURL = login.URL + "/services/oauth2/token" })
		u, err := c.GetUser(context.Background(), sfUserID(1))
		if err != nil {
			t.Fatal(err)
		}
		if u.ID != sfUserID(1) {
			t.Errorf("user %q", u.ID)
		}
	})
	t.Run("BaseURL wins over instance_url", func(t *testing.T) {
		f.set(func(f *sfFake) { f.instanceURL = "http://127.0.0.1:1" })
		defer f.set(func(f *sfFake) { f.instanceURL = "" })
		c := f.client(func(c *Config) { c.TokenURL = login.URL + "/services/oauth2/token" })
		if _, err := c.GetUser(context.Background(), sfUserID(1)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no instance_url and no BaseURL", func(t *testing.T) {
		noInstance := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sfWriteJSON(w, http.StatusOK, map[string]string{"access_token": "t", "token_type": "Bearer"})
		}))
		t.Cleanup(noInstance.Close)
		c := f.client(func(c *Config) { c.BaseURL = ""; c.TokenURL = noInstance.URL })
		_, err := c.GetUser(context.Background(), sfUserID(1))
		if err == nil || !strings.Contains(err.Error(), "no instance_url") {
			t.Fatalf("err %v, want no instance_url", err)
		}
	})
}

func TestJWTBearer(t *testing.T) {
	key := sfTestKey(t)
	for _, tt := range []struct {
		name string
		pem  []byte
	}{{"PKCS#1", sfPKCS1PEM(key)}, {"PKCS#8", sfPKCS8PEM(t, key)}} {
		t.Run(tt.name, func(t *testing.T) {
			f := newSFFake(t)
			f.addUsers(1)
			f.set(func(f *sfFake) { f.pub = &key.PublicKey })
			c := f.client(func(c *Config) {
				c.ClientSecret = ""
				c.Username = sfTestUsername
				c.PrivateKeyPEM = tt.pem
				c.TokenURL = f.srv.URL + "/services/oauth2/token"
			})
			before := time.Now()
			if _, err := c.GetUser(context.Background(), sfUserID(1)); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			form, claims := f.tokenForms[0], f.claims
			f.mu.Unlock()
			if form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || form.Get("client_secret") != "" || len(form) != 2 {
				t.Errorf("form %v", form)
			}
			if len(claims) != 1 {
				t.Fatalf("%d verified assertions", len(claims))
			}
			cl := claims[0]
			if cl.Iss != sfTestClientID || cl.Sub != sfTestUsername || cl.Aud != DefaultJWTAudience {
				t.Errorf("claims %+v", cl)
			}
			if exp := time.Unix(cl.Exp, 0); exp.Before(before.Add(3*time.Minute-time.Second)) || exp.After(time.Now().Add(3*time.Minute)) {
				t.Errorf("exp %s, want now+3m", exp)
			}
		})
	}
}

func TestJWTAssertion(t *testing.T) {
	key := sfTestKey(t)
	now := time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC)
	a, err := authAssertion(&authKey{rsa: key}, "cid", "u@acme.example", "https://login.salesforce.com", now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(a, ".")
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if string(hdr) != `{"alg":"RS256","typ":"JWT"}` {
		t.Errorf("header %s", hdr)
	}
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var got map[string]any
	if err := json.Unmarshal(cb, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"iss": "cid", "sub": "u@acme.example", "aud": "https://login.salesforce.com", "exp": float64(now.Add(3 * time.Minute).Unix())}
	if len(got) != len(want) {
		t.Errorf("claims %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("claim %s = %v, want %v", k, got[k], v)
		}
	}
	if strings.ContainsAny(a, "+/=") {
		t.Errorf("assertion is not base64url without padding: %s", a)
	}
	// A tampered assertion fails verification.
	other, _ := authAssertion(&authKey{rsa: key}, "cid", "mallory@acme.example", "https://login.salesforce.com", now)
	forged := parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2]
	if _, err := sfVerifyAssertion(&key.PublicKey, forged, now); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("forged assertion: %v", err)
	}
}

func TestTokenErrors(t *testing.T) {
	key := sfTestKey(t)
	wrongKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		mod       func(*Config)
		code, msg string
	}{
		{"wrong secret", func(c *Config) { c.ClientSecret = "wrong-secret-123" }, "invalid_client", "invalid client credentials"},
		{"wrong key", func(c *Config) {
			c.ClientSecret, c.Username, c.PrivateKeyPEM = "", sfTestUsername, sfPKCS1PEM(wrongKey)
		}, "invalid_grant", "invalid assertion signature"},
		{"wrong user", func(c *Config) {
			c.ClientSecret, c.Username, c.PrivateKeyPEM = "", "someone@else.example", sfPKCS1PEM(key)
		}, "invalid_grant", "user hasn't approved this consumer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSFFake(t)
			f.addUsers(1)
			f.set(func(f *sfFake) { f.pub = &key.PublicKey })
			c := f.client(tt.mod)
			_, err := c.GetUser(context.Background(), sfUserID(1))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err %v (%T), want *Error", err, err)
			}
			if e.Status != 400 || e.Code != tt.code || !strings.Contains(e.Message, tt.msg) || e.Route != RouteToken || e.Temporary() {
				t.Errorf("error %+v, want 400 %s %q permanent on %s", e, tt.code, tt.msg, RouteToken)
			}
			if strings.Contains(err.Error(), "wrong-secret-123") {
				t.Errorf("error leaks the secret: %v", err)
			}
			if n := len(f.recorded()); n != 0 {
				t.Errorf("%d data requests without a session", n)
			}
		})
	}
}

func TestRefreshOnceOn401(t *testing.T) {
	t.Run("expired session is refreshed", func(t *testing.T) {
		f := newSFFake(t)
		f.addUsers(1)
		c := f.client()
		ctx := context.Background()
		if _, err := c.GetUser(ctx, sfUserID(1)); err != nil {
			t.Fatal(err)
		}
		f.revoke()
		if _, err := c.GetUser(ctx, sfUserID(1)); err != nil {
			t.Fatalf("after the session expired: %v", err)
		}
		if n := f.tokens(); n != 2 {
			t.Errorf("%d token requests, want 2", n)
		}
		if n := len(f.recorded()); n != 3 {
			t.Errorf("%d data requests, want 3 (ok, 401, retried ok)", n)
		}
	})
	t.Run("gives up after one refresh", func(t *testing.T) {
		f := newSFFake(t)
		f.addUsers(1)
		c := f.client()
		f.set(func(f *sfFake) {
			f.hook = func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == RouteToken {
					return false
				}
				sfWriteJSON(w, http.StatusUnauthorized, []restErrorItem{{Message: "Session expired or invalid", ErrorCode: "INVALID_SESSION_ID"}})
				return true
			}
		})
		err := c.SetAlias(context.Background(), sfUserID(1), "jsmith")
		var e *Error
		if !errors.As(err, &e) || e.Status != 401 || e.Code != CodeInvalidSession || e.Temporary() {
			t.Fatalf("err %v, want a permanent 401 INVALID_SESSION_ID", err)
		}
		if n := f.tokens(); n != 2 {
			t.Errorf("%d token requests, want 2 (first, one refresh)", n)
		}
		if n := len(f.recorded()); n != 2 {
			t.Errorf("%d data requests, want 2", n)
		}
	})
}

func TestNewClientBadBaseURLIsOneError(t *testing.T) {
	_, err := NewClient(Config{BaseURL: "ftp://acme", ClientID: "id", ClientSecret: "s"})
	if err == nil || strings.Count(err.Error(), "salesforce: config:") != 1 {
		t.Fatalf("err %v, want exactly the BaseURL problem", err)
	}
}

func TestParseExpiresIn(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"", 0, false}, {"null", 0, false}, {"7200", 2 * time.Hour, false}, {`"900"`, 15 * time.Minute, false},
		{"0", 0, true}, {`"soon"`, 0, true}, {"-5", 0, true},
	}
	for _, tt := range tests {
		got, err := authParseExpiresIn(json.RawMessage(tt.in))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("authParseExpiresIn(%s) = %s, %v; want %s, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestAuthOrgID(t *testing.T) {
	for in, want := range map[string]string{
		"https://login.salesforce.com/id/00D5e000000KQ2eEAG/0055e000000IntgAAC": "00D5e000000KQ2eEAG",
		"https://test.salesforce.com/id/00D5e000000KQ2e/0055e000000Intg":        "00D5e000000KQ2e",
		"https://login.salesforce.com/id/0055e000000IntgAAC":                    "",
		"":                     "",
		"://bad":               "",
		"https://x/id/001/005": "",
	} {
		if got := authOrgID(in); got != want {
			t.Errorf("authOrgID(%q) = %q, want %q", in, got, want)
		}
	}
}
