package sandbox

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// OAuth grant types the token endpoint accepts.
const (
	SFGrantClientCredentials = "client_credentials"
	SFGrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// SFJWTMaxLifetime is how far ahead a JWT bearer assertion's exp may be.
	SFJWTMaxLifetime = 3 * time.Minute
	// sfJWTClockSkew is tolerated on exp both ways.
	sfJWTClockSkew = 5 * time.Second
)

// SFLoginURLs are the audiences a JWT bearer assertion may name: the
// login URLs of production and sandbox orgs (never the org's My Domain).
var SFLoginURLs = []string{"https://login.salesforce.com", "https://test.salesforce.com"}

// parseSFPublicKey returns the RSA public key of a PEM certificate or public key.
func parseSFPublicKey(pemBytes []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q, want CERTIFICATE, PUBLIC KEY or RSA PUBLIC KEY", block.Type)
	}
	if err != nil {
		return nil, err
	}
	rk, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%T is not an RSA public key", key)
	}
	return rk, nil
}

// AddClient registers a connected app. It needs an ID and a secret or a
// public key.
func (s *Salesforce) AddClient(c SFClient) error {
	if c.ID == "" {
		return errors.New("add salesforce client: id is required")
	}
	cl := sfClient{SFClient: c}
	cl.PublicKeyPEM = append([]byte(nil), c.PublicKeyPEM...)
	switch k := c.PublicKey.(type) {
	case nil:
		if len(c.PublicKeyPEM) > 0 {
			rk, err := parseSFPublicKey(c.PublicKeyPEM)
			if err != nil {
				return fmt.Errorf("add salesforce client %s: public key: %w", c.ID, err)
			}
			cl.key = rk
		}
	case *rsa.PublicKey:
		cl.key = k
	case rsa.PublicKey:
		cl.key = &k
	default:
		return fmt.Errorf("add salesforce client %s: public key %T, want *rsa.PublicKey", c.ID, c.PublicKey)
	}
	if c.Secret == "" && cl.key == nil {
		return fmt.Errorf("add salesforce client %s: a secret or a public key is required", c.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = cl
	return nil
}

// RevokeTokens invalidates every access token issued so far: the next API
// call with one of them gets 401 INVALID_SESSION_ID.
func (s *Salesforce) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessions)
}

// token is POST /services/oauth2/token: the client credentials flow and
// the JWT bearer flow.
func (s *Salesforce) token(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthErr(http.StatusMethodNotAllowed, "invalid_request", "must use HTTP POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, sfMaxBodySize)
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "malformed form body: "+err.Error())
		return
	}
	form := r.PostForm
	var cl sfClient
	var userID string
	switch form.Get("grant_type") {
	case SFGrantClientCredentials:
		var code, desc string
		cl, userID, code, desc = s.clientCredentials(r, form.Get("client_id"), form.Get("client_secret"))
		if code != "" {
			oauthErr(http.StatusBadRequest, code, desc)
			return
		}
	case SFGrantJWTBearer:
		var code, desc string
		cl, userID, code, desc = s.jwtBearer(r, form.Get("assertion"))
		if code != "" {
			oauthErr(http.StatusBadRequest, code, desc)
			return
		}
	default:
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	}

	var b [48]byte
	_, _ = rand.Read(b[:])
	tok := s.opts.OrgID[:15] + "!" + base64.RawURLEncoding.EncodeToString(b[:])
	now := s.opts.Now()
	s.mu.Lock()
	if len(s.sessions) >= 1024 {
		maps.DeleteFunc(s.sessions, func(_ string, ss sfSession) bool { return !now.Before(ss.expires) })
	}
	s.sessions[tok] = sfSession{clientID: cl.ID, userID: userID, expires: now.Add(s.opts.SessionTimeout)}
	s.mu.Unlock()

	base := s.instanceURL(r)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tok,
		"instance_url": base,
		"id":           base + "/id/" + s.opts.OrgID + "/" + userID,
		"token_type":   "Bearer",
		"issued_at":    strconv.FormatInt(now.UnixMilli(), 10),
		"scope":        "api",
	})
}

// clientCredentials checks a client credentials grant; code is the OAuth
// error, "" when granted.
func (s *Salesforce) clientCredentials(r *http.Request, id, secret string) (cl sfClient, userID, code, desc string) {
	if bid, bsecret, ok := r.BasicAuth(); ok && id == "" {
		id, secret = bid, bsecret
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cl, ok := s.clients[id]
	if !ok || id == "" || cl.Secret == "" || subtle.ConstantTimeCompare([]byte(cl.Secret), []byte(secret)) != 1 {
		return cl, "", "invalid_client", "invalid client credentials"
	}
	if cl.Username == "" {
		return cl, "", "invalid_grant", "no client credentials user enabled"
	}
	return cl, s.runAsUserID(cl.Username), "", ""
}

// runAsUserID is the ID of the user named username, or a stable
// integration-user ID for a user the org does not list; the caller holds
// s.mu.
func (s *Salesforce) runAsUserID(username string) string {
	if id := s.byUsername[strings.ToLower(username)]; id != "" {
		return id
	}
	return DemoSFIntegrationUserID
}

type jwtHeader struct {
	Alg string `json:"alg"`
}

type jwtClaims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"` // a string or an array of strings
	Exp json.Number     `json:"exp"`
}

// jwtBearer checks a JWT bearer grant (RS256, iss = client ID, sub =
// username, aud = a login URL (SFLoginURLs), exp within three
// minutes); code is the OAuth error, "" when granted.
func (s *Salesforce) jwtBearer(r *http.Request, assertion string) (cl sfClient, userID, code, desc string) {
	invalid := func(why string) (sfClient, string, string, string) {
		return sfClient{}, "", "invalid_grant", "invalid assertion: " + why
	}
	parts := strings.Split(assertion, ".")
	if assertion == "" || len(parts) != 3 {
		return invalid("not a JWT (header.claims.signature)")
	}
	var hdr jwtHeader
	var claims jwtClaims
	for i, dst := range []any{&hdr, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[i], "="))
		if err != nil {
			return invalid("base64url: " + err.Error())
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil {
			return invalid("JSON: " + err.Error())
		}
	}
	if hdr.Alg != "RS256" {
		return invalid(fmt.Sprintf("alg %q, want RS256", hdr.Alg))
	}
	s.mu.Lock()
	cl, ok := s.clients[claims.Iss]
	s.mu.Unlock()
	if !ok || claims.Iss == "" {
		return sfClient{}, "", "invalid_client", "client identifier invalid"
	}
	key, _ := cl.key.(*rsa.PublicKey)
	if key == nil {
		return sfClient{}, "", "invalid_client", "the connected app has no certificate for the JWT bearer flow"
	}
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "="))
	if err != nil {
		return invalid("signature base64url: " + err.Error())
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return invalid("signature does not verify with the connected app's certificate")
	}
	if !s.audienceOK(claims.Aud) {
		return sfClient{}, "", "invalid_grant", "audience is invalid"
	}
	exp, err := claims.Exp.Int64()
	if err != nil {
		if f, ferr := claims.Exp.Float64(); ferr == nil {
			exp, err = int64(f), nil
		}
	}
	if err != nil || claims.Exp == "" {
		return invalid("exp is required (seconds since 1970-01-01T00:00:00Z)")
	}
	now := s.opts.Now()
	switch expAt := time.Unix(exp, 0); {
	case !expAt.After(now.Add(-sfJWTClockSkew)):
		return sfClient{}, "", "invalid_grant", "expired authorization code: the assertion expired"
	case expAt.After(now.Add(SFJWTMaxLifetime + sfJWTClockSkew)):
		return invalid("exp is more than 3 minutes ahead")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if claims.Sub == "" {
		return invalid("sub (the username) is required")
	}
	if cl.Username != "" {
		if !strings.EqualFold(cl.Username, claims.Sub) {
			return sfClient{}, "", "invalid_grant", "user hasn't approved this consumer"
		}
		return cl, s.runAsUserID(cl.Username), "", ""
	}
	e := s.users[s.byUsername[strings.ToLower(claims.Sub)]]
	if e == nil || !e.u.IsActive {
		return sfClient{}, "", "invalid_grant", "user hasn't approved this consumer"
	}
	return cl, e.u.ID, "", ""
}

// audienceOK reports whether aud (a string or an array) names a login URL
// (SFLoginURLs). The org's My Domain or instance URL is refused, as
// Salesforce refuses it even on the My Domain token endpoint; the sandbox
// has no Experience Cloud sites, the other audience Salesforce accepts.
func (s *Salesforce) audienceOK(raw json.RawMessage) bool {
	var auds []string
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		auds = []string{one}
	} else if err := json.Unmarshal(raw, &auds); err != nil {
		return false
	}
	for _, a := range auds {
		a = strings.TrimRight(a, "/")
		for _, v := range SFLoginURLs {
			if strings.EqualFold(a, v) {
				return true
			}
		}
	}
	return false
}
