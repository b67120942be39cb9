-- Schema 1 of the PostgreSQL store: everything the SQLite store holds after
-- its migration 0012, in PostgreSQL types. Times are unix milliseconds
-- (bigint), metadata is jsonb (unknown keys kept), vectors are float32
-- little-endian bytea (the SQLite store's codec), text ids sort bytewise
-- (COLLATE "C"), as SQLite's do, so Scan and Resolve page alike.

-- Store-wide values: the change sequence (seq), the embedding space
-- (embed_model, embed_dims), the vector slots (embed_slot, ...), the last
-- maintenance pass (maintain_last), the tombstone horizon, and whatever a
-- later part of the store records. Values are text.
CREATE TABLE meta (
	key   text PRIMARY KEY,
	value text NOT NULL
);

-- seq is the change sequence: every write takes the next value at the end
-- of its transaction, holding the row's lock to its commit, so seq order is
-- commit order (store.go: stamp). embed_slot always exists, so that a write
-- storing a vector can share-lock it against a slot switch (tx.vecSlot).
INSERT INTO meta(key, value) VALUES ('seq', '0'), ('embed_slot', '0');

-- A value of a metadata counter as SQLite's CAST(json_extract(...) AS
-- INTEGER) reads it: a number truncated, a string's leading integer (0 when
-- it has none), true 1 and false 0, anything else NULL.
CREATE FUNCTION trove_int(v jsonb) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE jsonb_typeof(v)
		WHEN 'number' THEN greatest(least(trunc((v #>> '{}')::numeric), 9223372036854775807), -9223372036854775808)::bigint
		WHEN 'string' THEN coalesce(substring(v #>> '{}' from '^\s*([+-]?[0-9]{1,18})')::bigint, 0)
		WHEN 'boolean' THEN CASE WHEN v = 'true'::jsonb THEN 1 ELSE 0 END
	END
$$;

CREATE TABLE memories (
	rid            bigserial PRIMARY KEY,
	id             text COLLATE "C" NOT NULL UNIQUE,
	text           text             NOT NULL,
	category       text             NOT NULL,
	scope          text             NOT NULL,
	importance     double precision NOT NULL,
	created_at     bigint           NOT NULL,
	updated_at     bigint           NOT NULL,
	revision       bigint           NOT NULL,
	format         integer          NOT NULL,
	metadata       jsonb            NOT NULL DEFAULT '{}',
	-- The two vector slots (SQLite schema 12): meta embed_slot names the
	-- active one (0: vector, 1: vector_b); the other holds a reembed's
	-- target vectors, kept ones for a rollback, or leftovers.
	vector         bytea,
	vector_b       bytea,
	-- The change sequence of the row's last change (0 until its write
	-- commits: the write stamps it at the end, see store.go).
	seq            bigint           NOT NULL DEFAULT 0,
	-- An index of what the metadata says (SQLite schemas 6, 9, 10): see
	-- facts.go validityArgs and memory.SmartCategoryOf.
	fact_key       text,
	valid_from     bigint,
	valid_until    bigint,
	invalidated_at bigint,
	archived_at    bigint,
	smart_category text             NOT NULL DEFAULT '',
	-- Full-text search data: the row's text, L0/L1/L2 fields, tokenised in Go
	-- (text search, search.go/text.go); NULL until indexed.
	tokens         tsvector
);

CREATE INDEX memories_created ON memories(created_at, id);
CREATE INDEX memories_scope   ON memories(scope, created_at, valid_from, valid_until, invalidated_at, archived_at);
CREATE INDEX memories_format  ON memories(format, id);
CREATE INDEX memories_seq     ON memories(seq);
CREATE INDEX memories_fact    ON memories(fact_key, scope) WHERE fact_key IS NOT NULL;
CREATE INDEX memories_smart   ON memories(smart_category, created_at, id);
CREATE INDEX memories_novec   ON memories(rid) WHERE vector IS NULL;
CREATE INDEX memories_tokens  ON memories USING gin (tokens);

-- A deleted row's id and the seq of its deletion (stamped like rows').
CREATE TABLE tombstones (
	id         text COLLATE "C" PRIMARY KEY,
	seq        bigint NOT NULL DEFAULT 0,
	deleted_at bigint NOT NULL
);
CREATE INDEX tombstones_seq     ON tombstones(seq);
CREATE INDEX tombstones_deleted ON tombstones(deleted_at);

-- Every edit and delete keeps the row as it was (SQLite schema 5).
CREATE TABLE history (
	hid         bigserial PRIMARY KEY,
	id          text COLLATE "C" NOT NULL,
	revision    bigint           NOT NULL,
	text        text             NOT NULL,
	category    text             NOT NULL,
	scope       text             NOT NULL,
	importance  double precision NOT NULL,
	format      integer          NOT NULL,
	metadata    jsonb            NOT NULL,
	created_at  bigint           NOT NULL,
	updated_at  bigint           NOT NULL,
	replaced_at bigint           NOT NULL,
	replaced_by text             NOT NULL,
	change      text             NOT NULL
);
CREATE INDEX history_id       ON history(id, hid);
CREATE INDEX history_replaced ON history(replaced_at);

-- What Purge erased for good, without content.
CREATE TABLE erasures (
	id        text    NOT NULL,
	erased_at bigint  NOT NULL,
	erased_by text    NOT NULL,
	versions  integer NOT NULL,
	had_row   boolean NOT NULL
);

-- Text statistics per scope (SQLite schema 4), kept by every write in its
-- transaction: each scope's indexed rows and their total length in tokens,
-- and in how many of a scope's rows each term occurs.
CREATE TABLE scope_sizes (
	scope  text   PRIMARY KEY,
	rows   bigint NOT NULL,
	tokens bigint NOT NULL
);
CREATE TABLE scope_terms (
	scope text   NOT NULL,
	term  text   NOT NULL,
	docs  bigint NOT NULL,
	PRIMARY KEY (scope, term)
);

-- Capture (SQLite schema 7): the per-session buffer of messages waiting
-- for extraction, and the asynchronous capture jobs.
CREATE TABLE capture_buffer (
	id          bigserial PRIMARY KEY,
	session     text   NOT NULL,
	scope       text   NOT NULL,
	agent       text   NOT NULL, -- '' for the owner
	role        text   NOT NULL,
	content     text   NOT NULL,
	created_at  bigint NOT NULL,
	consumed_at bigint,
	capture_id  text
);
CREATE INDEX capture_buffer_pending  ON capture_buffer(session, id) WHERE consumed_at IS NULL;
CREATE INDEX capture_buffer_sessions ON capture_buffer(session, scope, agent, created_at, role) WHERE consumed_at IS NULL;
CREATE INDEX capture_buffer_consumed ON capture_buffer(consumed_at) WHERE consumed_at IS NOT NULL;

CREATE TABLE capture_jobs (
	id         text    PRIMARY KEY,
	session    text    NOT NULL,
	scope      text    NOT NULL,
	agent      text    NOT NULL,
	state      text    NOT NULL, -- pending, running, done, failed
	flush      boolean NOT NULL,
	result     text,
	error      text,
	attempts   integer NOT NULL DEFAULT 0,
	created_at bigint  NOT NULL,
	updated_at bigint  NOT NULL
);
CREATE INDEX capture_jobs_state ON capture_jobs(state, created_at);

-- Lifecycle tier moves (SQLite schema 8).
CREATE TABLE tier_transitions (
	id        bigserial PRIMARY KEY,
	memory_id text COLLATE "C" NOT NULL,
	from_tier text   NOT NULL,
	to_tier   text   NOT NULL,
	reason    text   NOT NULL,
	at        bigint NOT NULL,
	revision  bigint NOT NULL
);
CREATE INDEX tier_transitions_memory ON tier_transitions(memory_id, id);
CREATE INDEX tier_transitions_at     ON tier_transitions(at);

-- Maintenance passes (the SQLite store keeps only the last, in meta
-- maintain_last; this keeps each pass's summary as JSON).
CREATE TABLE maintain_runs (
	id      bigserial PRIMARY KEY,
	started bigint NOT NULL,
	ended   bigint NOT NULL,
	summary jsonb  NOT NULL
);

-- Which memories auto-recall injected in which session, on which turn
-- (SQLite schema 9).
CREATE TABLE recall_injections (
	session   text   NOT NULL,
	agent     text   NOT NULL, -- '' for the owner
	memory_id text   NOT NULL,
	turn      bigint NOT NULL,
	at        bigint NOT NULL,
	PRIMARY KEY (session, agent, memory_id)
);
CREATE INDEX recall_injections_at ON recall_injections(at);
