package notify_test

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/notify"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// BenchmarkSpoolEmails measures the delivery rate of confirmations to the
// spool: b.N bookings are made with the dispatcher stopped (each leaves an
// email and an SMS to its usager in the outbox), then the dispatcher runs,
// as the daemon wires it, with the store syncing its commits, until the
// outbox is empty. Reported: spooled emails per second (the goal of issue
// 14 is 2 000/s), messages (emails and SMS) per second, and the process's
// CPU time (user and system) per message. Besides the
// usager, other agents of the RDV's organisation may be told (their
// notification level): every queued email counts.
//
//	go test -run '^$' -bench SpoolEmails -benchtime 2000x -count 3 ./internal/notify/
func BenchmarkSpoolEmails(b *testing.B) {
	now := parisTime(2027, time.January, 4, 8, 0)
	h := &harness{dir: b.TempDir(), clock: newClock(now), logs: &logBuffer{}}
	h.cat.Store(catalogFor(b, h.dir, setup{}))
	h.startWith(b, harnessOptions{noDispatcher: true, quiet: true})
	bookFreeSlots(b, h, b.N, now)
	h.stop()
	h.startWith(b, harnessOptions{fsync: true, quiet: true})
	queued := map[string]int{}
	err := h.store.View(context.Background(), func(tx *store.ReadTx) error {
		return tx.EachOutbox("", func(r *store.OutboxRecord) error { queued[r.Kind]++; return nil })
	})
	if err != nil {
		b.Fatal(err)
	}
	if queued[notify.KindEmail] < b.N {
		b.Fatalf("%d emails queued for %d bookings", queued[notify.KindEmail], b.N)
	}
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	b.ResetTimer()
	deadline := start.Add(10 * time.Minute)
	for spooled(b, h, "mail") < queued[notify.KindEmail] || spooled(b, h, "sms") < queued[notify.KindSMS] {
		if time.Now().After(deadline) {
			b.Fatalf("%d emails spooled of %d after %v", spooled(b, h, "mail"), queued[notify.KindEmail], time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.StopTimer()
	h.settled(b)
	if n := spooled(b, h, "mail"); n != queued[notify.KindEmail] {
		b.Fatalf("%d emails spooled, %d queued", n, queued[notify.KindEmail])
	}
	b.ReportMetric(float64(queued[notify.KindEmail])/elapsed.Seconds(), "emails/s")
	b.ReportMetric(float64(queued[notify.KindEmail]+queued[notify.KindSMS])/elapsed.Seconds(), "messages/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(queued[notify.KindEmail]+queued[notify.KindSMS]), "cpu-µs/msg")
	b.ReportMetric(0, "ns/op")
}

// bookFreeSlots books up to n free slots, each by its own agent (who is not
// told of its own change) for a new usager with an email and a mobile
// number, from now on.
func bookFreeSlots(b *testing.B, h *harness, n int, now time.Time) {
	ctx := context.Background()
	cat := h.cat.Load()
	booked := 0
	for from := rdv.DateOf(now); booked < n && from < rdv.DateOf(now).AddDays(3*366); from = from.AddDays(31) {
		for _, m := range cat.Motifs {
			agent := cat.Organisation(m.Organisation.ID).Agents[0]
			found, err := h.booking.Slots(ctx, booking.Caller{Agent: agent}, booking.SlotsRequest{MotifID: m.ID,
				From: from.String(), To: from.AddDays(30).String()})
			if err != nil {
				b.Fatal(err)
			}
			for _, sl := range found {
				if booked == n {
					return
				}
				req := booking.BookRequest{MotifID: m.ID, StartsAt: sl.Start.Format(time.RFC3339), AgentID: sl.Agent.ID,
					Usager: &booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", Email: "lea.dubois@example.net", PhoneNumber: "06 12 34 56 78"}}
				if sl.Lieu != nil {
					req.LieuID = sl.Lieu.ID
				}
				if _, err := h.booking.Book(ctx, booking.Caller{Agent: sl.Agent}, req, nil); err != nil {
					continue // taken by an RDV booked for another motif of the agent
				}
				booked++
			}
		}
	}
	if booked < n {
		b.Fatalf("only %d free slots for %d bookings", booked, n)
	}
}

// spoolDirOf is the spool directory of kind ("mail" or "sms").
func spoolDirOf(h *harness, kind string) string {
	if kind == "sms" {
		return h.cat.Load().Config.SMSSpoolDir()
	}
	return h.cat.Load().Config.MailSpoolDir()
}

// spooled counts the messages written in the spool directory of kind.
func spooled(b *testing.B, h *harness, kind string) int {
	es, err := os.ReadDir(spoolDirOf(h, kind))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Name()[0] != '.' {
			n++
		}
	}
	return n
}
