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
