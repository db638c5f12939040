-- Get's lookups (bucket.Get in tx.go): a serialisable read of the B-tree
-- locks a whole leaf page, where every new time-ordered key is inserted;
-- this index's pages gather keys by hash. A path never holds two 0x00 in a
-- row nor ends with one, so path || 0x0000 || key names one key.
CREATE INDEX kv_point ON kv USING hash ((bucket || '\x0000'::bytea || key));
