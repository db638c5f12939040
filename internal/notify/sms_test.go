package notify_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"rdvsync/internal/store"
)

// smsProvider is a fake SMS provider that checks what it gets.
type smsProvider struct {
	t      *testing.T
	mu     sync.Mutex
	status []int // answers, in order; then 200
	got    []smsBody
}

type smsBody struct {
	To   string `json:"to"`
	Text string `json:"text"`
	ID   string `json:"id"`
}

func (p *smsProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer "+smsToken ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		p.t.Errorf("SMS request: %s, Authorization %q, Content-Type %q", r.Method, r.Header.Get("Authorization"), r.Header.Get("Content-Type"))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var b smsBody
	raw, _ := io.ReadAll(r.Body)
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		p.t.Errorf("SMS body %s: %v", raw, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, b)
	status := http.StatusOK
	if len(p.status) > 0 {
		status, p.status = p.status[0], p.status[1:]
	}
	w.WriteHeader(status)
	if status == http.StatusBadRequest {
		io.WriteString(w, `{"error": "numéro refusé : `+b.To+`"}`)
	}
}

func (p *smsProvider) calls() []smsBody {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]smsBody(nil), p.got...)
}

func TestSMSProvider(t *testing.T) {
	t.Run("500 then 200: retried", func(t *testing.T) {
		p := &smsProvider{t: t, status: []int{http.StatusInternalServerError}}
		srv := httptest.NewServer(p)
		defer srv.Close()
		h := newHarness(t, setup{smsURL: srv.URL + "/send"}, tuesday)
		b := h.bookExterne(t, thursday9, person{"Léa", "Dubois", "", "0612345678"})
		h.settled(t)
		calls := p.calls()
		if len(calls) != 2 || calls[0] != calls[1] {
			t.Fatalf("provider calls %+v, want the same SMS twice", calls)
		}
		c := calls[0]
		if c.To != "+33612345678" || c.ID != b.RDV.ID+".created.v1.usager" {
			t.Errorf("SMS %+v", c)
		}
		contains(t, "SMS text", c.Text, "RDV Orientation RSA confirmé le jeudi 3 décembre à 9 h 00", "?token="+b.RDV.UsagerToken)
		var results []string
		for _, r := range h.receipts(t, b.RDV.ID) {
			if r.Channel == "sms" {
				results = append(results, r.Result)
				if r.Transport != "http" {
					t.Errorf("receipt %+v", r)
				}
			}
		}
		if strings.Join(results, ",") != "failed,ok" {
			t.Errorf("sms receipts %v, want failed,ok", results)
		}
	})
	t.Run("400: dead letter", func(t *testing.T) {
		p := &smsProvider{t: t, status: []int{http.StatusBadRequest}}
		srv := httptest.NewServer(p)
		defer srv.Close()
		h := newHarness(t, setup{smsURL: srv.URL + "/send"}, tuesday)
		b := h.bookExterne(t, thursday9, person{"Léa", "Dubois", "", "0612345678"})
		h.settled(t)
		if n := len(p.calls()); n != 1 {
			t.Errorf("%d calls, want 1: a 400 is not retried", n)
		}
		var dead []store.OutboxRecord
		h.store.View(t.Context(), func(tx *store.ReadTx) error {
			return tx.EachOutbox("", func(r *store.OutboxRecord) error {
				if r.Dead {
					dead = append(dead, *r)
				}
				return nil
			})
		})
		if len(dead) != 1 || dead[0].Kind != "sms" || !strings.Contains(dead[0].LastError, "HTTP 400") {
			t.Fatalf("dead letters %+v", dead)
		}
		var rs []store.Receipt
		for _, r := range h.receipts(t, b.RDV.ID) {
			if r.Channel == "sms" {
				rs = append(rs, r)
			}
		}
		if len(rs) != 1 || rs[0].Result != "failed" {
			t.Fatalf("sms receipts %+v", rs)
		}
		// The provider echoed the number: it is redacted everywhere.
		for _, text := range []string{dead[0].LastError, rs[0].Error, h.logs.String()} {
			lacks(t, "error text", text, "33612345678")
		}
		contains(t, "receipt error", rs[0].Error, "HTTP 400", "[numéro]")
		h.checkLogs(t)
	})
}
