-- Capture (schema 0007): the durable per-session buffer of conversation
-- messages waiting for extraction, and the asynchronous capture jobs.
--
-- A message is appended in one write and marked consumed (consumed_at,
-- capture_id) in the write that commits the decisions made from it, so a
-- crash between the two leaves it pending: never lost, never captured
-- twice. Ids only grow (AUTOINCREMENT: an id is never reused, even after
-- pruning empties the table), so "every pending message with id <= N" is
-- fixed once N has been read. Consumed messages are pruned after a
-- retention (PruneCapture).
CREATE TABLE capture_buffer (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	session     TEXT    NOT NULL,
	scope       TEXT    NOT NULL,
	agent       TEXT    NOT NULL, -- '' for the owner
	role        TEXT    NOT NULL,
	content     TEXT    NOT NULL,
	created_at  INTEGER NOT NULL,
	consumed_at INTEGER,
	capture_id  TEXT
);

-- A session's pending messages in order (PendingMessages, ConsumeMessages).
CREATE INDEX capture_buffer_pending ON capture_buffer(session, id) WHERE consumed_at IS NULL;
-- Sessions with pending messages and when their newest came (PendingSessions
-- reads this index alone: it covers the query; consumed_at, always NULL
-- here, is in it because SQLite does not infer it from the WHERE).
CREATE INDEX capture_buffer_sessions ON capture_buffer(session, scope, agent, created_at, role, consumed_at) WHERE consumed_at IS NULL;
-- Consumed messages by age (PruneCapture).
CREATE INDEX capture_buffer_consumed ON capture_buffer(consumed_at) WHERE consumed_at IS NOT NULL;

-- An asynchronous capture request and its outcome. state is pending,
-- running, done or failed; result is the capture's outcome as JSON.
CREATE TABLE capture_jobs (
	id         TEXT    PRIMARY KEY,
	session    TEXT    NOT NULL,
	scope      TEXT    NOT NULL,
	agent      TEXT    NOT NULL,
	state      TEXT    NOT NULL,
	flush      INTEGER NOT NULL,
	result     TEXT,
	error      TEXT,
	attempts   INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

-- Jobs by state, oldest first (PendingJobs; PruneCapture's done and failed).
CREATE INDEX capture_jobs_state ON capture_jobs(state, created_at);
