package googlefake

import (
	"net/http"
	"time"
)

// Limits are the request quotas the fake enforces, each over a sliding
// minute as Google counts them
// (https://developers.google.com/calendar/api/guides/quota). Only
// accepted requests count.
type Limits struct {
	// PerUserPerMinute: beyond, 403 userRateLimitExceeded. Google's
	// published default is 600; every token of the fake is one user.
	PerUserPerMinute int
	// PerProjectPerMinute: beyond, 429 rateLimitExceeded. Google's
	// published default is 10 000.
	PerProjectPerMinute int
	// WritesPerCalendarPerMinute: beyond, 403 rateLimitExceeded, Google's
	// "operational limit" on writing to one calendar in quick succession.
	// Google publishes no figure: 0 means none.
	WritesPerCalendarPerMinute int
}

// GoogleLimits are Google's published quotas, the fake's default.
var GoogleLimits = Limits{PerUserPerMinute: 600, PerProjectPerMinute: 10000}

// SetLimits replaces the quotas (zero fields: no limit of that kind).
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l
}

// SetClock replaces the clock of the quota windows (default time.Now).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// throttle counts the request in the windows it falls in, or answers the
// error Google gives when one is full.
func (s *Server) throttle(r *http.Request) (reply, bool) {
	now := s.now()
	recent := func(w []time.Time) []time.Time {
		i := 0
		for i < len(w) && !w[i].After(now.Add(-time.Minute)) {
			i++
		}
		return w[i:]
	}
	s.user, s.project = recent(s.user), recent(s.project)
	cal := ""
	if r.Method != http.MethodGet && r.PathValue("cal") != "" {
		cal = r.PathValue("cal")
		s.writes[cal] = recent(s.writes[cal])
	}
	switch {
	case s.limits.PerUserPerMinute > 0 && len(s.user) >= s.limits.PerUserPerMinute:
		return errorReply(http.StatusForbidden, "userRateLimitExceeded", "User Rate Limit Exceeded"), false
	case s.limits.PerProjectPerMinute > 0 && len(s.project) >= s.limits.PerProjectPerMinute:
		return errorReply(http.StatusTooManyRequests, "rateLimitExceeded", "Rate Limit Exceeded"), false
	case cal != "" && s.limits.WritesPerCalendarPerMinute > 0 && len(s.writes[cal]) >= s.limits.WritesPerCalendarPerMinute:
		return errorReply(http.StatusForbidden, "rateLimitExceeded", "Rate Limit Exceeded"), false
	}
	s.user, s.project = append(s.user, now), append(s.project, now)
	if cal != "" {
		s.writes[cal] = append(s.writes[cal], now)
	}
	return reply{}, true
}
