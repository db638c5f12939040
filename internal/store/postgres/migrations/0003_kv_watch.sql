-- The top-level buckets that some process watches (Watch in notice.go):
-- every process, watching or not (a command run once), announces its
-- commits to them.
CREATE TABLE kv_watch (
	bucket bytea PRIMARY KEY
);
