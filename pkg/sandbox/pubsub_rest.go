package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
)

// SalesforceHandler serves the org (as [Salesforce.ServeHTTP]) and
// attributes the user changes a REST request makes to it: their change
// events carry changeOrigin "com/salesforce/api/rest/<version>", followed
// by ";client=<client>" when the request sends Sforce-Call-Options with
// client=<client>, and commitUser the user of the request's session. The
// changes of one request are one transaction (one transactionKey,
// sequenceNumber 1, 2, …). The requests that change users are PATCH of
// /services/data/vXX.X/sobjects/User/{id} and the membership resource's
// POST and DELETE, whose version is [SFAPIVersion].
func (p *PubSub) SalesforceHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids, version := psRESTTargets(r)
		if len(ids) == 0 {
			p.sf.ServeHTTP(w, r)
			return
		}
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			tok, _ = strings.CutPrefix(auth, "OAuth ")
		}
		by, _ := p.sf.sessionUser(tok)
		origin := "com/salesforce/api/rest/" + strings.TrimPrefix(version, "v")
		if client := psCallClient(r.Header.Values("Sforce-Call-Options")); client != "" {
			origin += ";client=" + client
		}
		p.mu.Lock()
		tx := p.newTxLocked(origin, by)
		for _, id := range ids {
			p.origins[id] = append(p.origins[id], tx)
		}
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			for _, id := range ids {
				stack := slices.DeleteFunc(p.origins[id], func(t *psTx) bool { return t == tx })
				if len(stack) == 0 {
					delete(p.origins, id)
				} else {
					p.origins[id] = stack
				}
			}
		}()
		p.sf.ServeHTTP(w, r)
	})
}

// StartSalesforce serves the org on addr through [PubSub.SalesforceHandler],
// as [Salesforce.Start] serves it (the URL becomes the org's instance
// URL).
func (p *PubSub) StartSalesforce(addr string) (url string, stop func() error, err error) {
	return p.sf.startHandler(addr, p.SalesforceHandler())
}

// psRESTTargets returns the 18-character IDs of the users a request may
// change, and the API version it names.
func psRESTTargets(r *http.Request) (ids []string, version string) {
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	add := func(raw string) {
		if id, ok := sfNormalizeID(raw, SFPrefixUser); ok && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	switch {
	case r.Method == http.MethodPatch && len(seg) == 6 && seg[0] == "services" && seg[1] == "data" &&
		seg[3] == "sobjects" && seg[4] == "User":
		add(seg[5])
		return ids, seg[2]
	case r.Method == http.MethodPatch && len(seg) == 5 && seg[0] == "services" && seg[1] == "data" &&
		seg[3] == "composite" && seg[4] == "sobjects":
		b, err := io.ReadAll(io.LimitReader(r.Body, sfMaxBodySize+1))
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), r.Body))
		var body struct {
			Records []struct {
				ID string `json:"id"`
			} `json:"records"`
		}
		if err == nil && json.Unmarshal(b, &body) == nil {
			for _, rec := range body.Records {
				add(rec.ID)
			}
		}
		return ids, seg[2]
	}
	return nil, ""
}

// psCallClient is the client option of Sforce-Call-Options headers
// ("client=vccsync", options separated by commas), "" when none.
func psCallClient(values []string) string {
	for _, v := range values {
		for opt := range strings.SplitSeq(v, ",") {
			if client, ok := strings.CutPrefix(strings.TrimSpace(opt), "client="); ok {
				return strings.TrimSpace(client)
			}
		}
	}
	return ""
}
