package doctor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/trove-memory/trove/internal/dburl"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// describeStore names the store in the report: its file, or its database
// URL without the password.
func describeStore(s Store) string {
	switch st := s.(type) {
	case FileStore:
		return st.Path()
	case ServerStore:
		return st.Redacted()
	}
	return fmt.Sprintf("a %T store", s)
}

// sqlShell is the command that runs one SQL statement on the store by hand.
func sqlShell(s Store, stmt string) string {
	switch st := s.(type) {
	case FileStore:
		return fmt.Sprintf("sqlite3 %s \"%s\"", st.Path(), stmt)
	case ServerStore:
		return fmt.Sprintf("psql '%s' -c \"%s\" (with the password)", st.Redacted(), stmt)
	}
	return fmt.Sprintf("the SQL %q", stmt)
}

func isServer(s Store) bool {
	_, ok := s.(ServerStore)
	return ok
}

// Missing is the report for a store path where there is no file, or a
// PostgreSQL URL (its password masked) naming no database or one without
// trove's tables.
func Missing(path string) Report {
	if dburl.IsPostgres(path) {
		return Report{DB: path, Checks: []Check{{Name: CheckStore, Status: Fail,
			Detail: fmt.Sprintf("there is no trove store at %s: no such database, or one without trove's tables", path),
			Fix: "point --db (or TROVE_DB) at the database your agents use; for a new store, create the database (createdb NAME, or CREATE DATABASE) " +
				"and run trove store …, which creates the tables"}},
			Repairs: []Repair{}}
	}
	return Report{DB: path, Checks: []Check{{Name: CheckStore, Status: Fail,
		Detail: fmt.Sprintf("there is no store at %s", path),
		Fix:    "point --db (or TROVE_DB) at the store your agents use; a new store is created by the first write (trove store …)"}},
		Repairs: []Repair{}}
}

// OpenFailed is the report for a store that could not be opened.
func OpenFailed(path string, err error) Report {
	fix := "check that the path is a trove store and that this user may read and write it and its directory"
	switch {
	case dburl.IsPostgres(path):
		fix = "check that the PostgreSQL server is running and reachable from this host, and the URL's host, port, database, user, password (or PGPASSWORD, ~/.pgpass) and sslmode; the role needs CREATE on the database the first time"
	case errors.Is(err, memory.ErrLocked):
		fix = "another process holds the write lock while this store needs migrating: wait for it to finish, or stop it, then run trove doctor again"
	case errors.Is(err, memory.ErrInvalid):
		fix = "point --db (or TROVE_DB) at a trove store; this file is left as it is"
	}
	return Report{DB: path, Checks: []Check{{Name: CheckStore, Status: Fail,
		Detail: fmt.Sprintf("the store could not be opened: %v", err), Fix: fix}},
		Repairs: []Repair{}}
}

func checkIntegrity(ctx context.Context, s FileStore) Check {
	c := Check{Name: CheckIntegrity}
	bad, err := s.IntegrityCheck(ctx)
	if err != nil {
		bad = []string{err.Error()}
	}
	if len(bad) == 0 {
		c.Status, c.Detail = OK, "PRAGMA integrity_check found no problems"
		return c
	}
	c.Status = Fail
	c.Detail = fmt.Sprintf("the file is damaged: PRAGMA integrity_check reports %s, first: %s", plural(len(bad), "problem"), bad[0])
	c.Figures = map[string]any{"problems": bad[:min(len(bad), 20)]}
	c.Fix = fmt.Sprintf("stop every trove process and copy %[1]s, %[1]s-wal and %[1]s-shm aside; then restore a backup, "+
		"or save what can still be read (trove export --db %[1]s --output rows.jsonl) and import it into a new store (trove import rows.jsonl --db NEW.db)", s.Path())
	return c
}

// checkSchema compares the store's schema version with this binary's; the
// bool is true when the store is newer (this binary only reads it).
func checkSchema(ctx context.Context, s Store, opts Options) (Check, bool) {
	c := Check{Name: CheckSchema}
	si, err := s.SchemaInfo(ctx)
	if err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("could not read the schema version: %v", err)
		return c, false
	}
	ours := si.Binary
	c.Figures = map[string]any{"store": si.Version, "binary": ours, "written_by": si.WrittenBy,
		"min_writer_version": si.MinWriter, "binary_version": opts.Version}
	by := "a newer trove"
	if si.WrittenBy != "" {
		by = "trove " + si.WrittenBy
	}
	switch {
	case si.Version > ours:
		c.Status = Fail
		this := "this trove"
		if opts.Version != "" {
			this += " (" + opts.Version + ")"
		}
		c.Detail = fmt.Sprintf("the store has schema version %d, written by %s; %s knows schema versions up to %d, so it can read the store but not write to it",
			si.Version, by, this, ours)
		c.Fix = fmt.Sprintf("install %s or newer (go install github.com/trove-memory/trove/cmd/trove@latest) and use it for this store", strings.TrimPrefix(by, "a "))
		return c, true
	case si.Version < ours:
		c.Status = Warn
		c.Detail = fmt.Sprintf("the store has schema version %d, older than this trove's %d", si.Version, ours)
		c.Fix = "run any trove command that opens the store (trove stats): it migrates the store under the write lock"
		if isServer(s) {
			c.Fix = "run any trove command that opens the store (trove stats): it migrates the store under an advisory lock"
		}
	case sqlite.OlderThan(opts.Version, si.MinWriter):
		c.Status = Fail
		c.Detail = fmt.Sprintf("schema version %d may only be written by trove %s or newer, and this trove is %s: it can read the store but not write to it",
			si.Version, si.MinWriter, opts.Version)
		c.Fix = "upgrade this binary (go install github.com/trove-memory/trove/cmd/trove@latest), and restart any trove serve an agent host started with the old one"
		return c, false
	default:
		c.Status = OK
		c.Detail = fmt.Sprintf("schema version %d, the one this trove writes", si.Version)
		if si.WrittenBy != "" {
			c.Detail += fmt.Sprintf(" (migrated by trove %s)", si.WrittenBy)
		}
	}
	c.Detail += "; " + writers(si.MinWriter, opts.Version)
	return c, false
}

// writers says which troves may write the store and where this one stands.
func writers(min, this string) string {
	if this == "" {
		this = "unknown"
	}
	if min == "" {
		return fmt.Sprintf("no minimum writer version recorded; this trove is %s", this)
	}
	out := fmt.Sprintf("writers must be trove %s or newer; this trove is %s", min, this)
	if !sqlite.IsRelease(this) {
		out += " (a dev build: not compared with the minimum)"
	}
	return out
}

func fixFTS(s Store) string {
	return "run trove doctor --repair: it rebuilds the search index from the rows " + underLock(s) + ", without changing any row"
}

func checkFTS(ctx context.Context, s Store) Check {
	c := Check{Name: CheckFTS}
	rep, err := s.CheckFTS(ctx)
	if err != nil {
		c.Status, c.Detail, c.Fix, c.repairable = Fail, fmt.Sprintf("could not read the search index: %v", err), fixFTS(s), true
		return c
	}
	c.Figures = map[string]any{"rows": rep.Rows, "indexed": rep.Indexed, "missing": rep.Missing, "extra": rep.Extra}
	if isServer(s) {
		c.Figures["stale"], c.Figures["stats_off"] = rep.Stale, rep.Stats
	}
	ix, err := s.TextIndex(ctx)
	if err != nil {
		c.Status, c.Detail, c.Fix, c.repairable = Fail, fmt.Sprintf("could not read the search index version: %v", err), fixFTS(s), true
		return c
	}
	c.Figures["index_version"] = ix.Version
	latest := s.TextIndexLatest()
	if ix.Version < latest {
		c.Figures["stemmed_built"], c.Figures["stemmed_of"] = ix.Built, ix.Rows
	}
	if rep.Consistent() {
		c.Status, c.Detail = OK, fmt.Sprintf("the search index matches the rows (%s indexed, index version %d)", plural(rep.Rows, "row"), ix.Version)
		if ix.Version < latest {
			c.Status = Warn
			c.Detail += fmt.Sprintf("; the stemmed index (version %d) is being built beside it: %d of %d rows, "+
				"and until it is done keyword search finds words only as written", latest, ix.Built, ix.Rows)
			c.Fix = "any trove process that opens the store builds it in the background; trove doctor --repair builds it to the end now"
		}
		return c
	}
	var parts []string
	if rep.Missing > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d rows are not indexed, so keyword search cannot find them", rep.Missing, rep.Rows))
	}
	if rep.Extra > 0 {
		parts = append(parts, fmt.Sprintf("%d index %s no row", rep.Extra, pick(rep.Extra, "entry has", "entries have")))
	}
	if rep.Stale > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d rows' index %s not what this trove's tokeniser makes of %s, so keyword search misses or misranks %s",
			rep.Stale, rep.Rows, pick(rep.Stale, "is", "are"), pick(rep.Stale, "the row", "them"), pick(rep.Stale, "it", "them")))
	}
	if rep.Stats > 0 {
		parts = append(parts, fmt.Sprintf("the kept search statistics (row count and length) of %s differ from the rows, so ranking there is off",
			plural(rep.Stats, "scope")))
	}
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%d rows but %d index entries", rep.Rows, rep.Indexed))
	}
	c.Status, c.Fix, c.repairable = Fail, fixFTS(s), true
	c.Detail = "the search index is out of step with the rows: " + strings.Join(parts, "; ")
	return c
}

func checkMetadata(ctx context.Context, s Store) Check {
	c := Check{Name: CheckMetadata}
	n, ids, err := s.BadMetadata(ctx, examples)
	if err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("could not check the rows' metadata: %v", err)
		return c
	}
	c.Figures = map[string]any{"bad": n}
	if n == 0 {
		c.Status, c.Detail = OK, "every row's metadata is a JSON object"
		return c
	}
	c.Status = Fail
	c.Detail = fmt.Sprintf("%s metadata that is not a JSON object, so reading, exporting or updating %s fails (%s)",
		pick(n, "1 row has", strconv.Itoa(n)+" rows have"), pick(n, "it", "them"), eg(ids, n))
	c.Fix = fmt.Sprintf("trove cannot read such a row, so it cannot update or delete it either: reset its metadata with %s, "+
		"then trove update ID --text '<its text>' re-indexes it (--repair never changes rows)", sqlShell(s, "UPDATE memories SET metadata = '{}' WHERE id = 'ID'"))
	return c
}

func checkVectors(ctx context.Context, s Store, sp store.Space, spErr error) Check {
	c := Check{Name: CheckVectors}
	if spErr != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("could not read the recorded embedding model: %v", spErr)
		return c
	}
	vc, err := s.VectorCensus(ctx)
	if err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("could not count the vectors: %v", err)
		return c
	}
	byDims := map[string]int{}
	for d, n := range vc.ByDims {
		byDims[strconv.Itoa(d)] = n
	}
	withVec := vc.Rows - vc.Missing
	c.Figures = map[string]any{"rows": vc.Rows, "without_vector": vc.Missing, "malformed": vc.Malformed,
		"by_dimensions": byDims, "recorded": sp}
	if vc.Rows == 0 {
		c.Status, c.Detail = OK, "no rows yet"
		return c
	}
	c.Status = OK
	var details, fixes []string
	switch {
	case withVec > 0 && sp.Dimensions == 0:
		c.Status = Warn
		details = append(details, fmt.Sprintf("%s vectors but the store records no embedding model, so they were not written by trove and may not match the model the next write records",
			pick(withVec, "1 row has", strconv.Itoa(withVec)+" rows have")))
		fixes = append(fixes, "re-embed them with trove update ID --text '<its text>'")
	case withVec > 0:
		if wrong := withVec - vc.ByDims[sp.Dimensions]; wrong > 0 {
			c.Status = Fail
			ids, _ := s.VectorOutliers(ctx, sp.Dimensions, examples)
			var kinds []string
			for _, d := range slices.Sorted(maps.Keys(vc.ByDims)) {
				if d != sp.Dimensions {
					kinds = append(kinds, fmt.Sprintf("%d with %d dimensions", vc.ByDims[d], d))
				}
			}
			if vc.Malformed > 0 {
				kinds = append(kinds, fmt.Sprintf("%d not a whole number of float32s", vc.Malformed))
			}
			c.Figures["wrong_dimensions"] = wrong
			details = append(details, fmt.Sprintf("%d of %d vectors %s the store's %d dimensions (model %s): %s (%s); "+
				"the vector index refuses %s, so recall falls back to keyword search",
				wrong, withVec, pick(wrong, "does not have", "do not have"), sp.Dimensions, sp.Model, strings.Join(kinds, ", "), eg(ids, wrong), pick(wrong, "it", "them")))
			if wrong > vc.Malformed {
				fixes = append(fixes, "re-embed a row with the configured model (trove update ID --text '<its text>') or delete it (trove delete ID)")
			}
			if vc.Malformed > 0 {
				fixes = append(fixes, fmt.Sprintf("trove cannot read a row whose vector is not whole float32s, so it cannot update or delete it either: "+
					"clear the vector with %s, then re-embed it with trove update ID --text '<its text>'", sqlShell(s, "UPDATE memories SET vector = NULL, vector_b = NULL WHERE id = 'ID'")))
			}
		}
	}
	if vc.Missing > 0 {
		if c.Status == OK {
			c.Status = Warn
		}
		ids, _ := s.MissingVectors(ctx, examples)
		details = append(details, fmt.Sprintf("%d of %d rows %s no vector, so only keyword search finds %s (%s)",
			vc.Missing, vc.Rows, pick(vc.Missing, "has", "have"), pick(vc.Missing, "it", "them"), eg(ids, vc.Missing)))
		fixes = append(fixes, "trove update ID --text '<its text>' gives a row a vector")
	}
	if c.Status == OK {
		c.Detail = fmt.Sprintf("all %s %d-dimension vectors (model %s)", pick(vc.Rows, "1 row has", strconv.Itoa(vc.Rows)+" rows have"), sp.Dimensions, sp.Model)
		return c
	}
	c.Detail = strings.Join(details, "; ")
	c.Fix = strings.Join(fixes, "; ") + " (--repair never changes rows)"
	return c
}

func checkEmbedder(s Store, sp store.Space, spErr error) Check {
	c := Check{Name: CheckEmbedder}
	if spErr != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("could not read the recorded embedding model: %v", spErr)
		return c
	}
	conf := s.ConfiguredSpace()
	c.Figures = map[string]any{"recorded": sp, "configured": conf}
	mismatch := ""
	switch {
	case sp.Model == "" && sp.Dimensions == 0:
		c.Status, c.Detail = OK, "no vectors recorded yet: the first one written records the model"
		if conf.Model != "" {
			c.Detail += " (" + describe(conf) + " as configured)"
		}
		return c
	case conf.Model == "" && conf.Dimensions == 0:
		c.Status, c.Detail = OK, fmt.Sprintf("the store's vectors come from %s (no embedder configured in this process)", describe(sp))
		return c
	case conf.Model != "" && sp.Model != "" && conf.Model != sp.Model:
		mismatch = "model"
	case conf.Dimensions != 0 && conf.Dimensions != sp.Dimensions:
		mismatch = "dimensions"
	}
	if mismatch == "" {
		c.Status, c.Detail = OK, fmt.Sprintf("the configured embedder is the one that wrote the store's vectors: %s", describe(sp))
		return c
	}
	c.Status = Fail
	c.Detail = fmt.Sprintf("the configured embedder (%s) differs in %s from the one that wrote the store's vectors (%s): storing or re-embedding a memory fails, and recall's vector search cannot compare the query with the rows",
		describe(conf), mismatch, describe(sp))
	c.Fix = fmt.Sprintf("configure the embedder that wrote the store (%s: TROVE_EMBED_PROVIDER, TROVE_EMBED_MODEL, TROVE_EMBED_DIMENSIONS or the config file); "+
		"or move to the new one: trove export --output rows.jsonl (without vectors), then trove import rows.jsonl --db NEW.db, which embeds every row with the configured model", describe(sp))
	return c
}

func describe(sp store.Space) string {
	switch {
	case sp.Model == "":
		return fmt.Sprintf("an unnamed model with %d dimensions", sp.Dimensions)
	case sp.Dimensions == 0:
		return "model " + sp.Model
	}
	return fmt.Sprintf("model %s with %d dimensions", sp.Model, sp.Dimensions)
}

// checkScopes finds rows no agent can reach: every agent reaches global
// and its own agent:<id>; user:, project: and custom: scopes only when
// agentAccess grants them. The owner (the CLI without --agent) reaches
// every row, so these are warnings: they may be meant for the owner alone.
func checkScopes(ctx context.Context, s Store, opts Options) Check {
	c := Check{Name: CheckScopes}
	st, err := s.Stats(ctx, memory.Owner(), store.Filter{})
	if err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("could not count the rows by scope: %v", err)
		return c
	}
	granted := map[string]bool{}
	for _, scopes := range opts.AgentAccess {
		for _, sc := range scopes {
			granted[sc] = true
		}
	}
	unreachable, malformed := map[string]int{}, map[string]int{}
	for sc, n := range st.ByScope {
		switch {
		case !validScope(sc):
			malformed[sc] = n
		case sc == string(memory.GlobalScope) || strings.HasPrefix(sc, "agent:") || strings.HasPrefix(sc, "reflection:agent:") || granted[sc]:
		default:
			unreachable[sc] = n
		}
	}
	c.Figures = map[string]any{"scopes": len(st.ByScope), "unreachable": unreachable, "malformed": malformed}
	if len(unreachable) == 0 && len(malformed) == 0 {
		c.Status = OK
		c.Detail = fmt.Sprintf("every row is in a scope an agent can reach (%s)", plural(len(st.ByScope), "scope"))
		return c
	}
	c.Status = Warn
	var details, fixes []string
	if len(unreachable) > 0 {
		n := sum(unreachable)
		details = append(details, fmt.Sprintf("%s in %s no agent is granted, so only the owner (the CLI without --agent) sees %s: %s",
			plural(n, "row"), plural(len(unreachable), "scope"), pick(n, "it", "them"), listCounts(unreachable)))
		fixes = append(fixes, `grant a scope to the agents that need it in the config file ("agentAccess": {"<agent>": ["<scope>"]}), `+
			"or move the rows (trove update ID --scope global), or leave them if they are for the owner alone")
	}
	if len(malformed) > 0 {
		n := sum(malformed)
		details = append(details, fmt.Sprintf("%s in %s that %s not valid, so no agent can be granted %s: %s",
			plural(n, "row"), plural(len(malformed), "scope"), pick(len(malformed), "is", "are"), pick(len(malformed), "it", "them"), listCounts(malformed)))
		fixes = append(fixes, "move those rows to a valid scope: trove update ID --scope global (or agent:<id>, user:<id>, project:<id>, custom:<name>)")
	}
	c.Detail = strings.Join(details, "; ")
	c.Fix = strings.Join(fixes, "; ")
	return c
}

func validScope(s string) bool {
	_, err := memory.ParseScope(s)
	return err == nil
}

// listCounts names up to ten scopes, most rows first.
func listCounts(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(keys, func(a, b string) int { return m[b] - m[a] })
	var parts []string
	for i, k := range keys {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(keys)-10))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// eg names example ids: "e.g. a, b" or, when they are all, "a, b".
func eg(ids []string, total int) string {
	if len(ids) == 0 {
		return "ids not read"
	}
	if len(ids) == total {
		return pick(total, "id ", "ids ") + strings.Join(ids, ", ")
	}
	return "e.g. " + strings.Join(ids, ", ")
}
