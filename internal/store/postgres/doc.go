// Package postgres is the store's key-value model (kv.Backend,
// internal/store/kv) on a PostgreSQL database shared by several rdvsync
// processes, and the only package that imports pgx. The domain methods
// above it are those that run on bbolt; what changes is who referees
// concurrent writers: the database, not the process (docs/design.md §9).
//
// # Schema
//
// SQL migrations in migrations/, embedded, applied by Open under an
// advisory lock (replicas starting together apply them once) and recorded
// in schema_migrations(version, applied_at).
//
//	kv(bucket bytea, key bytea, value bytea NOT NULL, PRIMARY KEY (bucket, key))
//	  kv_point: a hash index on bucket || 0x0000 || key, for Get
//	kv_bucket(parent bytea, name bytea, PRIMARY KEY (parent, name))
//	kv_seq(bucket bytea PRIMARY KEY, seq bigint NOT NULL)
//	kv_watch(bucket bytea PRIMARY KEY)
//
// bytea compares bytewise, a prefix first, as bbolt orders keys. bucket is
// the bucket's path: its names from the top, separated by 0x00, each name
// escaped so that no path equals another (escapeName); a bucket's keys are
// the rows with its exact path, so a nested bucket's keys never show in its
// parent. An empty value is stored as an empty bytea and read back as a
// non-nil empty slice. A bucket holds no row of its own: Bucket never
// returns nil (an empty bucket instead). kv_bucket lists the nested buckets
// made by CreateBucketIfNotExists, for ForEachBucket; ForEach lists keys
// only, not the names of nested buckets as bbolt does.
//
// # Transactions
//
// Update runs in SERIALIZABLE isolation: when two transactions each read
// what the other writes (two bookings checking the same agent's range),
// PostgreSQL aborts one with a serialisation failure, at a statement or at
// commit, and Update runs it again after a random pause. PostgreSQL lets
// one of the writers in conflict commit, but not always the same one: so
// that no writer loses every round, every Update holds the advisory lock
// writersLock shared from its first statement (sent with BEGIN, no round
// trip of its own) to its end, and an Update aborted three times runs
// again holding it exclusively, taken before BEGIN so that its snapshot
// follows every commit before it: it runs while no other read-write
// transaction does, and commits. PostgreSQL queues new shared requests
// behind a waiting exclusive one, so it waits only for the transactions
// already running. A failure to commit after 10 s is then the database's
// (kv.ErrUnavailable), not contention's. Every process writing the kv
// table must therefore go through Update. View runs in REPEATABLE READ READ ONLY:
// one snapshot, never aborted. A read that the database cannot answer (the
// KV interfaces return no error on reads) panics with an internal value
// that View and Update recover into an error wrapping kv.ErrUnavailable.
//
// A round trip costs more than a statement: BEGIN waits for the first
// statement, Put and Delete wait for the next read or the commit, and each
// sends everything waiting in one pipelined batch. A transaction that reads
// once and writes ten keys makes two round trips; a key read twice is read
// once; a cursor reads 8 rows when placed, then 64 per round trip, in the
// direction it moves.
//
// A process runs at most Options.MaxWriters read-write transactions at
// once (by default defaultMaxWriters); the others wait their turn in the
// process. Serialisable writers running together abort one another on
// page-level locks, wasting the round trips made; writers waiting in the
// process waste nothing, and the database's connections stay free for
// View.
//
// Sequences are taken outside the transaction, by an autonomous statement
// on a small pool of its own, like PostgreSQL's sequences: bookings never wait
// for each other's commit to get a number, a rolled-back transaction leaves
// a gap, no number is given twice.
//
// # Change notices
//
// After a commit that wrote to a bucket that some process watches (Watch
// lists it in kv_watch), a process sends a notice on the channel
// rdvsync_changes, in a statement of its own (one for all the commits since
// its last notice: notifying inside the transactions would serialise their
// commits); each watching process listens on a connection of its own and
// calls its watches for the notices of other processes.
//
// # Operating
//
// Serialisable transactions keep predicate locks on the index pages they
// read, and abort when another transaction writes there: Get therefore
// looks keys up in the hash index kv_point, whose pages gather keys by
// hash, not in the B-tree, whose last page every new time-ordered key
// (an RDV id) goes to. Cursors read the B-tree. One that reads more pages of a table than max_pred_locks_per_relation
// (by default half of max_pred_locks_per_transaction, 32) has them widened
// to the whole table, and as every bucket lives in kv, it then conflicts
// with every concurrent writer: raise max_pred_locks_per_transaction (pgtest
// starts its clusters with 256) on a busy database.
package postgres
