// Package doctor checks a trove store and says, in plain words, what is
// wrong and how to fix it: the schema version, the search index against
// the rows, the stored vectors against the recorded embedding model, and
// scopes no agent can reach, on every backend; for a store in a file
// (SQLite, FileStore) also the file's integrity, its permissions and the
// write lock (who holds it, and how long a writer waits for it right now);
// for a store in a database server (PostgreSQL, ServerStore) the
// connection, the server version, the extensions, the indexes, and
// transactions that hold locks for long. With Options.Repair it also
// performs the safe fixes and never changes a row.
//
//	s, _ := sqlite.Open(ctx, path, sqlite.Options{})
//	rep := doctor.Run(ctx, s, doctor.Options{Repair: true})
//	if !rep.OK { ... } // rep.Checks say what failed and how to fix it
//
// The checks are read-only queries on the store's read pool; only the lock
// probe and a repair take the write lock, each for as short as it can.
package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/trove-memory/trove/internal/lock"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// Store is what the doctor needs of every store, whatever keeps it: its
// maintenance queries (read-only, on the read side) and the repairs.
// A store also implements FileStore or ServerStore for the checks of its
// kind; one that implements neither gets the common checks only.
type Store interface {
	// SchemaInfo reads the store's schema version, and the one this
	// binary writes for the backend (SchemaInfo.Binary).
	SchemaInfo(ctx context.Context) (store.SchemaInfo, error)
	// CheckFTS compares the keyword index with the rows; RebuildFTS
	// rebuilds it from the rows without changing a row.
	CheckFTS(ctx context.Context) (store.FTSReport, error)
	RebuildFTS(ctx context.Context) error
	// TextIndex is the text index's version and the progress of building
	// a newer one; TextIndexLatest is the version this binary builds, and
	// BuildTextIndex builds it to the end.
	TextIndex(ctx context.Context) (store.TextIndexStatus, error)
	TextIndexLatest() int
	BuildTextIndex(ctx context.Context) error
	// BadMetadata counts rows whose metadata is not a JSON object and
	// names up to limit of them.
	BadMetadata(ctx context.Context, limit int) (int, []string, error)
	// VectorCensus counts rows by vector length; VectorOutliers and
	// MissingVectors name up to limit rows (in id order) whose vector is
	// not dims long, or absent.
	VectorCensus(ctx context.Context) (store.VectorCensus, error)
	VectorOutliers(ctx context.Context, dims, limit int) ([]string, error)
	MissingVectors(ctx context.Context, limit int) ([]string, error)
	Space(ctx context.Context) (store.Space, error)
	ConfiguredSpace() store.Space
	Stats(ctx context.Context, acc memory.Access, f store.Filter) (store.Stats, error)
	TombstoneCount(ctx context.Context, retention time.Duration) (total, old int, err error)
	PruneTombstones(ctx context.Context, retention time.Duration) (store.PruneReport, error)
	PruneHistory(ctx context.Context, keep int, olderThan int64, batch int) (int, error)
}

// FileStore is a store kept in a local file and written under a kernel
// lock (SQLite): the doctor checks the file's integrity and permissions
// and the lock.
type FileStore interface {
	Store
	Path() string
	IntegrityCheck(ctx context.Context) ([]string, error)
	Lock() *lock.Lock
}

// ServerStore is a store in a database server (PostgreSQL): the doctor
// checks the connection, the server, its extensions, the schema's indexes
// and sessions that hold locks for long. Each method is a read-only query.
type ServerStore interface {
	Store
	// Redacted is the database's URL without its password: the report's db.
	Redacted() string
	// Ping makes one round trip to the server on a pooled connection.
	Ping(ctx context.Context) error
	// ServerInfo is the server's version, the database and role, and the
	// extensions (pgvector: available, installed, in use).
	ServerInfo(ctx context.Context) (store.ServerInfo, error)
	// Indexes lists every index the schema expects (those of the
	// migrations and, when in use, the vector index) and whether each is
	// present and valid.
	Indexes(ctx context.Context) ([]store.IndexStatus, error)
	// LongTransactions lists the sessions other than the caller's whose
	// transaction has been open longer than olderThan and that hold or wait
	// for a lock (pg_stat_activity joined with pg_locks), oldest first.
	LongTransactions(ctx context.Context, olderThan time.Duration) ([]store.ServerSession, error)
}

var _ FileStore = (*sqlite.Store)(nil)

// Status is a check's verdict. Warnings leave the report OK.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Check is one finding: what was looked at, the verdict, what was found in
// plain words, and what to do about it ("" when nothing). Figures carry the
// numbers behind Detail for scripts.
type Check struct {
	Name    string         `json:"name"`
	Status  Status         `json:"status"`
	Detail  string         `json:"detail"`
	Fix     string         `json:"fix"`
	Figures map[string]any `json:"figures,omitempty"`

	repairable bool // Options.Repair fixes it
}

// Repairable reports whether Options.Repair can fix what this check found.
func (c Check) Repairable() bool { return c.repairable }

// Repair is what a repair did: status done, failed or skipped.
type Repair struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	pruned int    // history: versions pruned (a repair that pruned none is not reported)
}

// Report is the whole verdict. OK is false when any check failed.
type Report struct {
	DB      string   `json:"db"`
	OK      bool     `json:"ok"`
	Checks  []Check  `json:"checks"`
	Repairs []Repair `json:"repairs"`
}

// Failed returns the checks that failed.
func (r Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c)
		}
	}
	return out
}

// Check returns the named check.
func (r Report) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Names of the checks, in the order they are reported.
const (
	CheckStore       = "store"
	CheckIntegrity   = "integrity"  // file stores
	CheckConnection  = "connection" // server stores, and server, extensions, indexes, transactions
	CheckServer      = "server"
	CheckExtensions  = "extensions"
	CheckSchema      = "schema"
	CheckFTS         = "fts"
	CheckMetadata    = "metadata"
	CheckVectors     = "vectors"
	CheckEmbedder    = "embedder"
	CheckScopes      = "scopes"
	CheckTombstones  = "tombstones"
	CheckPermissions = "permissions"
	CheckLockHolder  = "lock_holder"
	CheckIndexes     = "indexes"
	CheckTransaction = "transactions"
	CheckLockWait    = "lock_wait"
)

// Names of the repairs.
const (
	RepairFTS         = "fts"
	RepairTextIndex   = "text_index"
	RepairVectorCache = "vector_cache"
	RepairPermissions = "permissions"
	RepairTombstones  = "tombstones"
	RepairHistory     = "history"
)

// Options tune a run; the zero value checks without repairing.
type Options struct {
	// Repair performs the safe fixes: rebuilding the search index and
	// pruning tombstones past the retention, under the write lock, and
	// tightening loose file modes. Rows are never changed.
	Repair bool
	// TombstoneRetention is the config's tombstoneRetention: a repair
	// prunes tombstones older than this (0: none).
	TombstoneRetention time.Duration
	// HistoryKeep and HistoryRetention are the config's history.keep and
	// history.retention: a repair prunes versions beyond them (0: no bound).
	HistoryKeep      int
	HistoryRetention time.Duration
	// AgentAccess is the config's agentAccess: agent id -> granted scopes.
	AgentAccess map[string][]string
	// LockTimeout is how long writers wait for the lock (default 30 s); a
	// holder older than that is reported.
	LockTimeout time.Duration
	// Probes is how many times the lock is taken to measure waits (default 20).
	Probes int
	// ProbeTimeout bounds each probe's wait (default 2 s).
	ProbeTimeout time.Duration
	// Version is this trove's version, named when the store is newer.
	Version string
	// Now is the clock for the lock holder's age (default time.Now).
	Now func() time.Time
	// LongTransaction is the age at which a server session's open
	// transaction holding locks is reported (default 30 s).
	LongTransaction time.Duration
}

func (o *Options) defaults() {
	if o.LockTimeout <= 0 {
		o.LockTimeout = 30 * time.Second
	}
	if o.Probes <= 0 {
		o.Probes = 20
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LongTransaction <= 0 {
		o.LongTransaction = 30 * time.Second
	}
}

// examples is how many ids a finding names.
const examples = 5

// Run checks s and, with opts.Repair, performs the safe repairs. Errors
// of the checks themselves are findings (status fail), not a return value:
// a store that cannot answer a query is what the user needs to hear about.
func Run(ctx context.Context, s Store, opts Options) Report {
	opts.defaults()
	fs, isFile := s.(FileStore)
	ss, isServer := s.(ServerStore)
	r := Report{DB: describeStore(s), Checks: []Check{}, Repairs: []Repair{}}
	var integrity Check // the file's, or the connection to the server
	switch {
	case isFile:
		integrity = checkIntegrity(ctx, fs)
		r.Checks = append(r.Checks, integrity)
	case isServer:
		integrity = checkConnection(ctx, ss)
		r.Checks = append(r.Checks, integrity)
		if integrity.Status != Fail {
			r.Checks = append(r.Checks, checkServerAndExtensions(ctx, ss)...)
		}
	}
	schema, newer := checkSchema(ctx, s, opts)
	r.Checks = append(r.Checks, schema)
	if newer {
		// A newer schema may keep rows, vectors or the index differently:
		// what this binary would check there proves nothing.
		for _, name := range []string{CheckFTS, CheckMetadata, CheckVectors, CheckEmbedder, CheckScopes, CheckTombstones} {
			r.Checks = append(r.Checks, Check{Name: name, Status: Warn,
				Detail: "not checked: the store's schema is newer than this trove understands",
				Fix:    "run trove doctor from the trove that wrote the store"})
		}
	} else {
		sp, spErr := s.Space(ctx)
		r.Checks = append(r.Checks,
			checkFTS(ctx, s),
			checkMetadata(ctx, s),
			checkVectors(ctx, s, sp, spErr),
			checkEmbedder(s, sp, spErr),
			checkScopes(ctx, s, opts),
			checkTombstones(ctx, s, opts.TombstoneRetention))
	}
	switch {
	case isFile:
		r.Checks = append(r.Checks, checkPermissions(fs.Path()), checkHolder(fs.Lock(), opts))
	case isServer && integrity.Status != Fail:
		r.Checks = append(r.Checks, checkIndexes(ctx, ss), checkTransactions(ctx, ss, opts))
	}
	if opts.Repair {
		blocked := ""
		switch {
		case newer:
			blocked = "the store's schema is newer than this trove's, so this trove does not write to it"
		case schema.Status == Fail:
			blocked = "this trove may not write to the store (see schema)"
		case integrity.Status == Fail && isServer:
			blocked = "trove cannot reach the database (see connection)"
		case integrity.Status == Fail:
			blocked = "the integrity check failed: recover the file first (see integrity); a repair would write to a damaged file"
		}
		r.repair(ctx, s, blocked, opts)
	}
	if isFile {
		// Last, so a repair's own lock hold is not measured as others' work.
		r.Checks = append(r.Checks, probeLock(ctx, fs.Lock(), opts))
	}
	r.OK = len(r.Failed()) == 0
	return r
}

// repair performs the safe fixes the checks call for, and says what it did
// with each, including what there was no need or no way to do.
func (r *Report) repair(ctx context.Context, s Store, blocked string, opts Options) {
	i := r.index(CheckFTS)
	switch {
	case blocked != "":
		r.Repairs = append(r.Repairs, Repair{Name: RepairFTS, Status: "skipped", Detail: blocked})
	case i < 0 || !r.Checks[i].repairable:
		r.Repairs = append(r.Repairs, Repair{Name: RepairFTS, Status: "skipped", Detail: "the search index matches the rows: nothing to rebuild"})
	default:
		if err := s.RebuildFTS(ctx); err != nil {
			r.Repairs = append(r.Repairs, Repair{Name: RepairFTS, Status: "failed", Detail: fmt.Sprintf("rebuild the search index: %v", err)})
			break
		}
		r.Checks[i] = checkFTS(ctx, s)
		rows, _ := r.Checks[i].Figures["rows"].(int)
		r.Repairs = append(r.Repairs, Repair{Name: RepairFTS, Status: "done",
			Detail: fmt.Sprintf("rebuilt the search index from the rows %s: %s indexed, no row changed", underLock(s), plural(rows, "row"))})
	}
	if i := r.index(CheckFTS); i >= 0 {
		if v, _ := r.Checks[i].Figures["index_version"].(int); v > 0 && v < s.TextIndexLatest() {
			r.Repairs = append(r.Repairs, repairTextIndex(ctx, s, blocked))
			r.Checks[i] = checkFTS(ctx, s)
		}
	}
	r.Repairs = append(r.Repairs, Repair{Name: RepairVectorCache, Status: "skipped",
		Detail: "nothing to rebuild: trove keeps no vector cache on disk; each process indexes the vectors in memory from the rows " +
			"and follows other processes' writes, so a restart or the next search is always current (rows with wrong vectors are listed under vectors)"})
	if i := r.index(CheckTombstones); i >= 0 && r.Checks[i].repairable {
		if blocked != "" {
			r.Repairs = append(r.Repairs, Repair{Name: RepairTombstones, Status: "skipped", Detail: blocked})
		} else {
			r.Repairs = append(r.Repairs, repairTombstones(ctx, s, opts.TombstoneRetention))
			r.Checks[i] = checkTombstones(ctx, s, opts.TombstoneRetention)
		}
	}
	if opts.HistoryKeep > 0 || opts.HistoryRetention > 0 {
		if blocked != "" {
			r.Repairs = append(r.Repairs, Repair{Name: RepairHistory, Status: "skipped", Detail: blocked})
		} else {
			// Reported when it pruned something or failed: old versions
			// are routine, not a finding.
			if rep := repairHistory(ctx, s, opts.HistoryKeep, opts.HistoryRetention); rep.Status != "done" || rep.pruned > 0 {
				r.Repairs = append(r.Repairs, rep)
			}
		}
	}
	// File modes are not data: tightening them is safe even when the
	// store's content may not be written.
	if i := r.index(CheckPermissions); i >= 0 && r.Checks[i].repairable {
		path := s.(FileStore).Path() // only file stores have a permissions check
		r.Repairs = append(r.Repairs, repairPermissions(path))
		r.Checks[i] = checkPermissions(path)
	}
}

// repairTextIndex builds the stemmed search index of a store from before
// it to the end now, in the short batches the server runs in the
// background, and switches to it.
func repairTextIndex(ctx context.Context, s Store, blocked string) Repair {
	if blocked != "" {
		return Repair{Name: RepairTextIndex, Status: "skipped", Detail: blocked}
	}
	if err := s.BuildTextIndex(ctx); err != nil {
		return Repair{Name: RepairTextIndex, Status: "failed", Detail: fmt.Sprintf("build the stemmed search index: %v; run trove doctor --repair again to resume", err)}
	}
	st, err := s.TextIndex(ctx)
	if err != nil {
		return Repair{Name: RepairTextIndex, Status: "failed", Detail: err.Error()}
	}
	return Repair{Name: RepairTextIndex, Status: "done",
		Detail: fmt.Sprintf("built the stemmed search index in batches and switched to it (index version %d); no row changed", st.Version)}
}

func (r *Report) index(name string) int {
	for i, c := range r.Checks {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// underLock says how a repair kept writers out: the file store's write
// lock, or a server store's short transactions, each locking the rows it
// rebuilds (writers wait for a batch, never for the whole rebuild).
func underLock(s Store) string {
	if _, ok := s.(ServerStore); ok {
		return "in short transactions, each locking the rows it rebuilds"
	}
	return "under the write lock"
}
