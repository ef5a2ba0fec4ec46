package httpapi

// refusedReasons are the error codes of every client error the public
// API counts in sessiond_sessions_refused_total (4xx answers but 404 and
// 405). Their series exist from the start at zero, so a dashboard or an
// alert on a rate sees the first refusal as a change, not as a series
// appearing (TestRefusedReasonsCoverEveryCode keeps this list whole).
var refusedReasons = []string{
	"bad_body", "bad_json", "body_too_large", "chunked_body_refused", "cross_origin",
	"data_too_large", "invalid_data", "invalid_session", "invalid_token", "invalid_utf8",
	"missing_token", "no_session", "session_expired", "stale_auth", "token_revoked",
	"unknown_session", "unsupported_media_type", "user_agent_mismatch", "user_deleted", "user_disabled",
}

// precreateRefused creates the refusal series at zero.
func (m *metrics) precreateRefused() {
	for _, r := range refusedReasons {
		m.refusedVec.WithLabelValues(r)
	}
}
