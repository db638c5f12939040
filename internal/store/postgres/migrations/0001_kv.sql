-- The store's ordered key-value model (internal/store/kv): one row per
-- key. bytea compares bytewise, shorter prefix first, as bbolt orders keys.
-- bucket is the bucket's path (escapeName in tx.go); an empty value is '',
-- never NULL, so that Get tells it from a missing key.
CREATE TABLE kv (
	bucket bytea NOT NULL,
	key    bytea NOT NULL,
	value  bytea NOT NULL,
	PRIMARY KEY (bucket, key)
);

-- Get's lookups (bucket.Get in tx.go): a serialisable read of the B-tree
-- locks a whole leaf page, where every new time-ordered key is inserted;
-- this index's pages gather keys by hash. A path never holds two 0x00 in a
-- row nor ends with one, so path || 0x0000 || key names one key.
CREATE INDEX kv_point ON kv USING hash ((bucket || '\x0000'::bytea || key));

-- The nested buckets of each bucket (parent: its path), listed by
-- ForEachBucket; top-level buckets are not listed.
CREATE TABLE kv_bucket (
	parent bytea NOT NULL,
	name   bytea NOT NULL,
	PRIMARY KEY (parent, name)
);

-- Bucket sequences, taken outside the transactions like a PostgreSQL
-- sequence (NextSequence in tx.go).
CREATE TABLE kv_seq (
	bucket bytea PRIMARY KEY,
	seq    bigint NOT NULL
);
