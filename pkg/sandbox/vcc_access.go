package sandbox

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// PasswordReset is one password-reset email in the outbox of the sandbox,
// as POST /users/{userId}/forgotPassword sends it.
type PasswordReset struct {
	UserID string
	Email  string // the user's email when the reset was asked for
	At     time.Time
}

// SetPassword sets the password a user logs in with at [VCCLoginPath]; ""
// removes it, and then every login of the user fails.
func (v *VCC) SetPassword(userID, password string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[userID]
	if e == nil {
		return fmt.Errorf("set password of vcc user %s: not found", userID)
	}
	e.password = password
	return nil
}

// FailedLogins is the number of consecutive failed logins of a user.
func (v *VCC) FailedLogins(userID string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e := v.users[userID]; e != nil {
		return e.failedLogins
	}
	return 0
}

// PasswordResets returns copies of the password-reset emails sent so far
// by forgotPassword, oldest first.
func (v *VCC) PasswordResets() []PasswordReset {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.resets)
}

// forgotPassword is POST /users/{userId}/forgotPassword: VCC sends the user
// a password-reset email (here: to the outbox) and answers 200. Refusing
// an archived user (409) is a strict choice: an archived user cannot log
// in, and VCC does not document what it does then.
func (v *VCC) forgotPassword(r *http.Request) (int, any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[r.PathValue("userId")]
	if e == nil {
		return errUserNotFound.reply()
	}
	u := e.rec.User
	if !u.Active {
		return apiErrorf(http.StatusConflict, "User %s is archived: revert it to active before resetting its password", u.UserID).reply()
	}
	v.resets = append(v.resets, PasswordReset{UserID: u.UserID, Email: u.Email, At: v.opts.Now()})
	v.countWrite(r, u.UserID, true)
	return http.StatusOK, nil
}

// unlock is POST /users/{userId}/unlock: it unlocks the user and resets
// the count of failed logins, and answers 200 with no body. Unlocking a
// user who is not locked succeeds and changes nothing (but the count).
func (v *VCC) unlock(r *http.Request) (int, any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[r.PathValue("userId")]
	if e == nil {
		return errUserNotFound.reply()
	}
	changed := e.rec.User.Locked || e.failedLogins > 0
	e.rec.User.Locked = false
	e.failedLogins = 0
	v.countWrite(r, e.rec.User.UserID, changed)
	return http.StatusOK, nil
}

// AddUserCredential gives a user the user-level API credential clientID.
// A user with credentials cannot be deleted, and while the user is archived
// a client registered under that ID ([VCC.AddClient]) gets no token. VCC
// has no documented endpoint for them: they exist through Go only.
func (v *VCC) AddUserCredential(userID, clientID string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[userID]
	switch {
	case e == nil:
		return fmt.Errorf("add credential to vcc user %s: not found", userID)
	case clientID == "":
		return fmt.Errorf("add credential to vcc user %s: clientID is required", userID)
	case v.credOwner[clientID] != "":
		return fmt.Errorf("add credential %s to vcc user %s: it belongs to user %s", clientID, userID, v.credOwner[clientID])
	}
	e.credentials = append(e.credentials, clientID)
	v.credOwner[clientID] = userID
	return nil
}

// RemoveUserCredential deletes a user's user-level API credential clientID.
func (v *VCC) RemoveUserCredential(userID, clientID string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[userID]
	if e == nil {
		return fmt.Errorf("remove credential from vcc user %s: not found", userID)
	}
	i := slices.Index(e.credentials, clientID)
	if i < 0 {
		return fmt.Errorf("remove credential %s from vcc user %s: the user has no such credential", clientID, userID)
	}
	e.credentials = slices.Delete(e.credentials, i, i+1)
	delete(v.credOwner, clientID)
	return nil
}

// UserCredentials returns the clientIds of a user's user-level API
// credentials.
func (v *VCC) UserCredentials(userID string) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e := v.users[userID]; e != nil {
		return slices.Clone(e.credentials)
	}
	return nil
}

// archivedCredential reports whether clientID is a user-level credential of
// an archived user; the caller holds v.mu.
func (v *VCC) archivedCredential(clientID string) bool {
	e := v.users[v.credOwner[clientID]]
	return e != nil && !e.rec.User.Active
}

// SetAccounts records that a user belongs to n VCC accounts (linked
// accounts; 1 is this one only). Archiving a user of several accounts
// needs acceptArchiveInMultipleAccounts=true.
func (v *VCC) SetAccounts(userID string, n int) error {
	if n < 1 {
		return fmt.Errorf("set accounts of vcc user %s: %d, want 1 or more", userID, n)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[userID]
	if e == nil {
		return fmt.Errorf("set accounts of vcc user %s: not found", userID)
	}
	e.accounts = n
	return nil
}

// Accounts is the number of VCC accounts a user belongs to (0 for an
// unknown user).
func (v *VCC) Accounts(userID string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[userID]
	if e == nil {
		return 0
	}
	return max(e.accounts, 1)
}

type loginBody struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

// login is POST /sandbox/login, the sandbox's stand-in for logging in to the
// VCC portal or ContactPad. A wrong password counts a failure and the
// VCCLockAfterFailedLogins-th consecutive one locks the user; a locked user
// cannot log in until unlocked; a correct password resets the count.
func (v *VCC) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, message("The requested resource does not support http method '%s'.", r.Method))
		return
	}
	var body loginBody
	if aerr := readJSON(r, &body); aerr != nil {
		status, reply := aerr.reply()
		writeJSON(w, status, reply)
		return
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"username", body.Username}, {"password", body.Password}} {
		if f.v == nil || *f.v == "" {
			writeJSON(w, http.StatusBadRequest, message("%s is required", f.name))
			return
		}
	}
	status, reply := v.authenticate(*body.Username, *body.Password)
	writeJSON(w, status, reply)
}

const badLogin = "Invalid username or password"

func (v *VCC) authenticate(username, password string) (int, any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[v.byUsername[strings.ToLower(username)]]
	if e == nil {
		return http.StatusUnauthorized, message(badLogin)
	}
	u := &e.rec.User
	if u.Locked {
		return http.StatusLocked, message("account locked")
	}
	if e.password == "" || subtle.ConstantTimeCompare([]byte(e.password), []byte(password)) != 1 {
		e.failedLogins++
		if e.failedLogins >= VCCLockAfterFailedLogins {
			u.Locked = true
		}
		return http.StatusUnauthorized, message(badLogin)
	}
	e.failedLogins = 0
	if !u.Active {
		return http.StatusForbidden, message("account archived")
	}
	u.LastLoginTime = v.opts.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	return http.StatusOK, map[string]string{"userId": u.UserID, "username": u.Username, "lastLoginTime": u.LastLoginTime}
}
