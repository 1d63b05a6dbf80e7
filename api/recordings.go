package api

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
)

// callID is an Asterisk linkedid: the only name a recording may have.
var callID = regexp.MustCompile(`^[0-9]{1,20}\.[0-9]{1,10}$`)

// recording serves <dir>/<call>.wav to a signed-in user who was on the
// call, or to an admin, with range requests so the player can seek.
func (s *Server) recording(w http.ResponseWriter, r *http.Request) {
	sess := s.session(r)
	if sess == nil {
		fail(w, http.StatusUnauthorized, "sign in first")
		return
	}
	call := r.PathValue("call")
	if s.Web.Recordings == "" || !callID.MatchString(call) {
		fail(w, http.StatusNotFound, "no such recording")
		return
	}
	u := s.user(sess)
	if !u.Admin && (s.Web.Live == nil || !s.Web.Live.WasOn(u.Login, call)) {
		fail(w, http.StatusForbidden, "only the users who were on this call, and admins, may hear it")
		return
	}
	f, err := os.Open(filepath.Join(s.Web.Recordings, call+".wav"))
	if errors.Is(err, fs.ErrNotExist) {
		fail(w, http.StatusNotFound, "no recording of this call: it was not recorded, or it is older than [recordings] keep")
		return
	}
	if err != nil {
		s.Logger.Warn("web: cannot read a recording", "call", call, "err", err)
		fail(w, http.StatusInternalServerError, "the recording cannot be read; your admin will find why in odoo-agi's log")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		fail(w, http.StatusNotFound, "no such recording")
		return
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, call+".wav", st.ModTime(), f)
}

// recorded reports whether the call has a recording on disk.
func (s *Server) recorded(call string) bool {
	if s.Web.Recordings == "" || !callID.MatchString(call) {
		return false
	}
	st, err := os.Stat(filepath.Join(s.Web.Recordings, call+".wav"))
	return err == nil && st.Mode().IsRegular()
}
