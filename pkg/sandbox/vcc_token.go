package sandbox

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// token is POST /Auth/connect/token: the OAuth 2 client credentials grant.
// Client credentials come from HTTP Basic auth or the form body.
func (v *VCC) token(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc string) {
		body := map[string]string{"error": code}
		if desc != "" {
			body["error_description"] = desc
		}
		writeJSON(w, status, body)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthErr(http.StatusMethodNotAllowed, "invalid_request", "The token endpoint accepts POST only")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, vccMaxBodySize)
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "Malformed form body: "+err.Error())
		return
	}
	form := r.PostForm
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: Basic credentials are form-urlencoded first.
		if s, err := url.QueryUnescape(id); err == nil {
			id = s
		}
		if s, err := url.QueryUnescape(secret); err == nil {
			secret = s
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}

	v.mu.Lock()
	client, ok := v.clients[id]
	archived := v.archivedCredential(id)
	v.mu.Unlock()
	if !ok || id == "" || subtle.ConstantTimeCompare([]byte(client.Secret), []byte(secret)) != 1 {
		oauthErr(v.opts.InvalidClientStatus, "invalid_client", "")
		return
	}
	if archived {
		oauthErr(v.opts.InvalidClientStatus, "invalid_client", "The user who owns these API credentials is archived")
		return
	}
	if form.Get("grant_type") != "client_credentials" {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type")
		return
	}
	scopes := strings.Fields(form.Get("scope"))
	if len(scopes) == 0 {
		oauthErr(http.StatusBadRequest, "invalid_scope", "You must specify a scope")
		return
	}
	for _, s := range scopes {
		if !slices.Contains(client.Scopes, s) {
			oauthErr(http.StatusBadRequest, "invalid_scope", "Scope not allowed for this client: "+s)
			return
		}
	}

	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	v.mu.Lock()
	if len(v.tokens) >= 1024 {
		now := v.opts.Now()
		maps.DeleteFunc(v.tokens, func(_ string, t tokenInfo) bool { return !now.Before(t.expires) })
	}
	v.tokens[tok] = tokenInfo{client: client, scopes: scopes, expires: v.opts.Now().Add(v.opts.TokenLifetime)}
	v.mu.Unlock()

	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int(v.opts.TokenLifetime.Seconds()),
	})
}

// RevokeTokens invalidates every access token issued so far: the next API
// call with one of them gets 401.
func (v *VCC) RevokeTokens() {
	v.mu.Lock()
	defer v.mu.Unlock()
	clear(v.tokens)
}
