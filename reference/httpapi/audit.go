package httpapi

import (
	"context"
	"log/slog"

	"github.com/sessionbench/sessionbench/reference/session"
)

// Audit events: one Info log line per change in a session's life, so
// that who logged in, out or was thrown out can be answered from the
// logs. Each line carries "audit":"session", the event, the reason, the
// session's handle prefix (HandlePrefixLen characters of the handle
// GET /v1/sessions lists) and the user ID when the request knows it;
// never the session ID, the token or the email.
const (
	auditCreated   = "created"   // reason "login"
	auditRotated   = "rotated"   // a login replaced the cookie's session: reason "login"
	auditDestroyed = "destroyed" // reasons "logout", "logout_device", "logout_everywhere"
	auditRevoked   = "revoked"   // the server ended it: "user_agent_mismatch", "session_cap" (the per-user cap, at a login), or --recheck-user's code
)

// audit logs one audit event. prefix is the session's handle prefix
// (handlePrefix of its ID) or ""; userID may be "" when the request did
// not read the session (a logout presents only the cookie).
func (s *Server) audit(ctx context.Context, event, reason, prefix, userID string, extra ...slog.Attr) {
	attrs := make([]slog.Attr, 0, 5+len(extra))
	attrs = append(attrs, slog.String("audit", "session"), slog.String("event", event), slog.String("reason", reason))
	if prefix != "" {
		attrs = append(attrs, slog.String("handle_prefix", prefix))
	}
	if userID != "" {
		attrs = append(attrs, slog.String("user_id", userID))
	}
	attrs = append(attrs, extra...)
	s.log.LogAttrs(ctx, slog.LevelInfo, "session "+event, attrs...)
}

// HandlePrefixLen is the length of the handle prefix in spans and audit
// logs: 48 bits, enough to find a session among one user's in
// GET /v1/sessions, too little to link it across systems by itself.
const HandlePrefixLen = 8

// handlePrefix is the handle prefix of a session ID, "" for a malformed one.
func handlePrefix(id string) string {
	h, ok := session.Handle(id)
	if !ok {
		return ""
	}
	return h[:HandlePrefixLen]
}
