// Package store is rdvsync's durable state and the only package that imports
// bbolt (go.etcd.io/bbolt). It keeps RDVs, usagers, their indexes and
// idempotency records in one file, and offers them through transactions with
// domain methods (View, Update) so that a booking re-checks its slot and
// writes its RDV in one serialisable transaction.
//
// # Bucket tree
//
// Every bucket name is a package variable (buckets.go). <t> is an instant as
// 8 bytes big-endian unix nanoseconds, so byte order is time order and
// windows are scanned with Cursor.Seek. Values marked {…} are versioned JSON
// ({"v":1,…}, record.go); values marked ⟨…⟩ are format 2 (a byte 2, then a
// CBOR map with small integer keys: cbor.go, recordv2.go), which leaves
// out what the key holds; "·" is an empty value (key-only index). <rdv*>
// is an RDV id packed (idKey): 0xFF and 16 bytes for a UUID, the text of
// any other id.
//
//	meta
//	├── schema_version                              → uint64, 8 bytes big-endian
//	└── max_rdv_duration                            → int64 ns, 8 bytes big-endian; never decreases
//	rdvs                                            sequence: the last integer id given to an RDV
//	└── <rdv id>                                    → ⟨RDV⟩
//	usagers                                         sequence: the last integer id given to an usager
//	└── <usager id>                                 → ⟨Usager⟩
//	usager_email                                    lookup, several usagers may share an email
//	└── <email>\x00<usager id>                      → ·
//	usager_name_phone                               lookup for "same names and phone"
//	└── <first>\x00<last>\x00<phone>\x00<usager id> → ·
//	usager_orgs                                     organisations where the usager has (had) an RDV not ContactOnly
//	└── <usager id>\x00<organisation id>            → ·
//	usager_rdvs                                     the RDVs of each usager (export, erasure, retention)
//	└── <usager id>\x00<rdv*>                       → ·
//	erasures                                        usagers whose erasure waits for their last notices
//	└── <usager id>                                 → <t requested>
//	usager_search                                   scanned in name order by SearchUsagers
//	└── <last>\x00<first>\x00<usager id>            → searchable text (names, email, phone digits)
//	agent_busy                                      active (non-cancelled) RDVs only
//	└── <agent id>
//	    └── <t start><rdv*>                         → <t end>
//	org_rdvs                                        every RDV, cancelled ones too (listings)
//	└── <organisation id>
//	    └── <t start><rdv*>                         → ·
//	idempotency
//	└── <scope>\x00<key>                            → {"v":1, body_sha256, status, response, created_at}
//	idempotency_by_time                             scanned by PurgeIdempotency
//	└── <t created_at><scope>\x00<key>              → ·
//	outbox                                          pending, failing and dead deliveries (outbox.go)
//	└── <key>                                       → {"v":1, OutboxRecord}
//	outbox_due                                      scanned by DueOutbox; dead records have no entry
//	└── <t due><key>                                → ·
//	calendar_sync
//	└── <agent id>\x00<rdv id>                      → {"v":1, "data": owner's document}
//	agent_state
//	├── <agent id>\x00<name>                        → {"v":1, "data": owner's document}
//	└── webhook:<endpoint id>\x00delivery\x00<seq>   → {"v":1, "data": delivery log entry}; seq: 16 hex digits
//	reminders                                       pending reminders, scanned by TakeDueReminders
//	└── <t due><rdv*>                               → ⟨start, version⟩
//	reminder_by_rdv                                 one per RDV: the pending reminder, or the trace of the sent one
//	└── <rdv*>                                      → ⟨start, version, due, sent⟩
//	receipts                                        notification delivery attempts (receipts.go)
//	└── <rdv*>\x00<t at><seq>                       → ⟨Receipt⟩; seq: 8 bytes big-endian, bucket sequence
//	rdvs_ids                                        integer ids of configured objects (rdvsids.go)
//	└── <kind>                                      organisation, service, lieu, motif, agent; sequence: highest id given
//	    └── <configuration id>                      → uint64, 8 bytes big-endian
//	tickets                                         the booking pages' sessions and links (tickets.go)
//	└── <kind>\x00<sha256 of the id>                → <t expires><value>
//	ticket_expiry                                   scanned by LiveTickets and PurgeTickets
//	└── <kind>\x00<t expires><sha256 of the id>     → ·
//
// Retention (retention.go): DeleteRDV removes an RDV with its indexes,
// usager_rdvs and usager_orgs entries, reminder, receipts and idempotency
// records; DeleteUsager an usager with its lookups. usager_orgs loses an
// (usager, organisation) entry when the usager's last RDV there (not
// ContactOnly) is deleted.
//
// Names, emails and phones in index keys are normalised (normalize.go):
// lower case, accents stripped, punctuation and runs of spaces collapsed to
// one space, phones reduced to "+" and digits.
//
// Indexes are written in the same transaction as the record they point to.
// Tx.PutRDV and Tx.PutUsager read the previously stored version and remove
// its index entries before writing the new ones, so a moved or cancelled RDV
// frees its old slot in the very transaction that moves or cancels it.
//
// RDVs and usagers carry an integer id (RdvsID) drawn from their bucket's
// sequence when first written: bucket sequences only grow, so an id is
// never given twice, even after a deletion.
//
// A reminder is in reminders while pending and in reminder_by_rdv until
// purged: ScheduleReminder moves it when its RDV moves (one per RDV and
// start), TakeDueReminders hands it out once and keeps the trace.
//
// max_rdv_duration lets interval queries on agent_busy, which is keyed by
// start, seek to (from − longest RDV ever stored) and still see every RDV
// that began earlier but is not over at from.
//
// # Transactions
//
// View and Update hand out ReadTx and Tx, whose methods speak rdv types;
// no bbolt type leaves the package. Update uses group commit (commit.go):
// concurrent calls share one transaction and one fsync, so fn may run more
// than once and must have no effect outside the transaction. bbolt splits
// B-tree nodes only at commit, so a single transaction inserting many
// thousands of keys in the middle of a bucket is quadratic: bulk loads and
// migrations that insert must work in chunks.
//
// # Damage
//
// The file is memory-mapped and bbolt trusts its pages: a damaged one makes
// it panic or fault. Open refuses an existing empty file (bbolt would make
// a new store of it), a file shorter than its meta page says, and a file
// with an unreadable page (it reads every page once). Every transaction
// runs under guard (damage.go), which turns bbolt's panics and memory
// faults into ErrDamaged naming the file and the way out; Health then
// fails for /readyz. Panics of rdvsync's own code are not caught there.
// Check (check-store) runs bbolt's consistency check and the invariants
// of the indexes on a read-only open; Backup writes a consistent copy
// (Tx.WriteTo) while the daemon serves.
//
// # Schema versions
//
// meta/schema_version counts the migrations applied (migrate.go). Open runs
// the missing ones in order, in one transaction, and refuses a file written
// by a newer rdvsync (ErrSchemaTooNew) rather than misreading it. A
// migration that rewrites every record (9: format 2) first does its bulk
// in transactions of 10 000 records (migration.batches), which one
// transaction would hold in memory all at once; a process stopped between
// two leaves a store that the next start of this rdvsync finishes, and
// that an older rdvsync cannot read (restore the backup to go back).
package store
