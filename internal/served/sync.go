package served

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"rdvsync/internal/catalog"
	"rdvsync/internal/served/caldavext"
	"rdvsync/internal/store"
)

// syncStateName is the agent state document that holds the change history
// of the agent's CalDAV calendar.
const syncStateName = "caldav-sync"

// maxRemovals bounds the removals a history remembers. Past it the oldest
// are forgotten and the tokens older than them answered with 403
// valid-sync-token, after which clients synchronise from scratch (RFC
// 6578 §3.2). An agent's calendar loses members when RDVs leave the
// one-month window or change agent: a thousand is months of them.
const maxRemovals = 1000

// syncTokenPrefix starts every sync token. RFC 6578 §4 wants a URI; the
// reserved .invalid domain (RFC 6761 §6.4) says it is not to be fetched.
const syncTokenPrefix = "https://rdvsync.invalid/sync/"

// syncState is the change history of an agent's calendar as clients have
// seen it: what each member looked like (its ETag) and when it last
// changed, and when members left. It is computed from what the calendar
// serves, not from the writes that led there, so that every change a
// client can see moves the token: an RDV booked, moved or cancelled, but
// also one leaving the one-month window, a motif renamed in the
// configuration, an usager's name corrected under details: full.
type syncState struct {
	// Epoch names this history: a token of another one (a store restored
	// from a backup, a history reset) is refused rather than misread.
	Epoch string `json:"epoch"`
	// Seq numbers the calendar's states; the token of the current one
	// ends with it.
	Seq uint64 `json:"seq"`
	// Floor is the oldest state whose changes can still be told: the
	// removals before it were forgotten.
	Floor   uint64                `json:"floor"`
	Members map[string]syncMember `json:"members"` // by RDV id
	Removed map[string]uint64     `json:"removed"` // RDV id → state where it left
}

type syncMember struct {
	ETag string `json:"etag"`
	Seq  uint64 `json:"seq"` // state where it appeared or last changed
}

// advance returns the history moved to the calendar's current members
// (RDV id → ETag) and whether anything changed.
func (st syncState) advance(current map[string]string) (syncState, bool) {
	if st.Epoch == "" {
		st = syncState{Epoch: newEpoch(), Seq: 1, Floor: 1, Members: map[string]syncMember{}, Removed: map[string]uint64{}}
		for id, tag := range current {
			st.Members[id] = syncMember{tag, 1}
		}
		return st, true
	}
	if st.Members == nil {
		st.Members = map[string]syncMember{}
	}
	if st.Removed == nil {
		st.Removed = map[string]uint64{}
	}
	seq, changed := st.Seq+1, false
	for id, tag := range current {
		if m, ok := st.Members[id]; !ok || m.ETag != tag {
			st.Members[id] = syncMember{tag, seq}
			delete(st.Removed, id)
			changed = true
		}
	}
	for id := range st.Members {
		if _, ok := current[id]; !ok {
			delete(st.Members, id)
			st.Removed[id] = seq
			changed = true
		}
	}
	if !changed {
		return st, false
	}
	st.Seq = seq
	if over := len(st.Removed) - maxRemovals; over > 0 {
		ids := make([]string, 0, len(st.Removed))
		for id := range st.Removed {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b string) int { return cmp.Or(cmp.Compare(st.Removed[a], st.Removed[b]), cmp.Compare(a, b)) })
		for _, id := range ids[:over] {
			st.Floor = max(st.Floor, st.Removed[id])
			delete(st.Removed, id)
		}
	}
	return st, true
}

func newEpoch() string {
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return hex.EncodeToString(b)
}

// token is the sync token (and getctag) of the current state.
func (st syncState) token() string {
	return syncTokenPrefix + st.Epoch + "/" + strconv.FormatUint(st.Seq, 10)
}

// parse returns the state number of a token of this history, or false
// when the token is another history's or older than the floor.
func (st syncState) parse(token string) (uint64, bool) {
	rest, found := strings.CutPrefix(token, syncTokenPrefix+st.Epoch+"/")
	if !found {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return n, err == nil && n >= st.Floor && n <= st.Seq
}

// since returns the RDV ids changed and removed after state n, sorted.
func (st syncState) since(n uint64) (changed, removed []string) {
	for id, m := range st.Members {
		if m.Seq > n {
			changed = append(changed, id)
		}
	}
	for id, seq := range st.Removed {
		if seq > n {
			removed = append(removed, id)
		}
	}
	slices.Sort(changed)
	slices.Sort(removed)
	return changed, removed
}

// observeSync renders the agent's calendar, brings its history up to date
// and returns it. Observations are serialised so that the history never
// goes back to an older rendering.
func (s *Server) observeSync(ctx context.Context, cat *catalog.Catalog, a *catalog.Agent) (syncState, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	entries, err := s.entries(ctx, cat, a)
	if err != nil {
		return syncState{}, err
	}
	current := make(map[string]string, len(entries))
	for _, e := range entries {
		co, _, err := object(calendarPath(a.ID), e)
		if err != nil {
			return syncState{}, err
		}
		current[e.rdv.ID] = co.ETag
	}
	var st syncState
	err = s.store.View(ctx, func(tx *store.ReadTx) error {
		if err := tx.AgentState(a.ID, syncStateName, &st); err != nil && !store.IsNotFound(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return syncState{}, fmt.Errorf("served: sync state of agent %s: %w", a.ID, err)
	}
	next, changed := st.advance(current)
	if !changed {
		return st, nil
	}
	err = s.store.Update(ctx, func(tx *store.Tx) error { return tx.PutAgentState(a.ID, syncStateName, next) })
	if err != nil {
		return syncState{}, fmt.Errorf("served: sync state of agent %s: %w", a.ID, err)
	}
	return next, nil
}

// extBackend is the caldavext.Backend of the gated requests.
type extBackend struct{ backend }

var _ caldavext.Backend = extBackend{}

// privileges are every agent's on its own resources: read only (RFC 3744
// §3.1), free-busy included (RFC 4791 §6.1.1).
var privileges = []xml.Name{caldavext.PrivilegeRead, caldavext.PrivilegeReadFreeBusy}

// extKinds are the caldavext kinds of the agent's resources.
var extKinds = map[resource]caldavext.Kind{
	resRoot: caldavext.KindCollection, resPrincipal: caldavext.KindCollection, resHome: caldavext.KindCollection,
	resCalendar: caldavext.KindCalendar, resObject: caldavext.KindObject,
}

func (b extBackend) Resource(ctx context.Context, p string) (*caldavext.Resource, error) {
	req, err := b.request(ctx)
	if err != nil {
		return nil, err
	}
	kind, ok := extKinds[classifyKind(p, req.agent.ID)]
	if !ok {
		return nil, caldavext.ErrNotFound
	}
	return &caldavext.Resource{Kind: kind, Privileges: privileges}, nil
}

// calendarState is the sync state of the calendar at p, and its path.
func (b extBackend) calendarState(ctx context.Context, p string) (syncState, string, error) {
	req, err := b.request(ctx)
	if err != nil {
		return syncState{}, "", err
	}
	if classifyKind(p, req.agent.ID) != resCalendar {
		return syncState{}, "", caldavext.ErrNotFound
	}
	st, err := b.s.observeSync(ctx, req.cat, req.agent)
	return st, calendarPath(req.agent.ID), err
}

func (b extBackend) SyncToken(ctx context.Context, p string) (string, error) {
	st, _, err := b.calendarState(ctx, p)
	if err != nil {
		return "", err
	}
	return st.token(), nil
}

func (b extBackend) SyncCollection(ctx context.Context, p, token string) (*caldavext.SyncChanges, error) {
	st, calPath, err := b.calendarState(ctx, p)
	if err != nil {
		return nil, err
	}
	var changed, removed []string
	if token == "" {
		// An initial synchronisation lists every member (RFC 6578 §3.4).
		changed, _ = st.since(0)
	} else {
		n, ok := st.parse(token)
		if !ok {
			return nil, caldavext.ErrInvalidSyncToken
		}
		changed, removed = st.since(n)
	}
	out := &caldavext.SyncChanges{Token: st.token()}
	for _, id := range changed {
		out.Changed = append(out.Changed, calPath+id+".ics")
	}
	for _, id := range removed {
		out.Removed = append(out.Removed, calPath+id+".ics")
	}
	return out, nil
}

// classifyKind is classify's kind alone.
func classifyKind(p, agentID string) resource {
	kind, _ := classify(p, agentID)
	return kind
}
