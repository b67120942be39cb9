package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// The validity columns index what a row's metadata says about the fact it
// states (fact_key, valid_from, valid_until, invalidated_at) and whether
// it is archived (archived_at). The metadata is the truth; every statement
// that writes metadata also writes these columns from it (validityArgs).
// A column is NULL where the metadata does not say.

// validFromExpr is a row's memory.ValidFrom in SQL.
const validFromExpr = "coalesce(valid_from, created_at)"

// validityArgs are the values of fact_key, valid_from, valid_until,
// invalidated_at and archived_at for metadata md, read exactly as
// memory.ActiveAt reads them, so the SQL predicate and the Go one agree.
func validityArgs(md map[string]any) (factKey *string, from, until, invalidated, archived *int64) {
	if k := memory.MetaString(md, memory.KeyFactKey); k != "" {
		factKey = &k
	}
	if f, ok := memory.MetaMillis(md, memory.KeyValidFrom); ok {
		v := int64(f)
		from = &v
	}
	m := memory.Memory{Metadata: md}
	if u := memory.ValidUntil(m); u != 0 {
		until = &u
	}
	if i := memory.InvalidatedAt(m); i != 0 {
		invalidated = &i
	}
	if a := memory.ArchivedAt(m); a != 0 {
		archived = &a
	}
	return factKey, from, until, invalidated, archived
}

// activeClause is memory.ActiveAt(row, at) in SQL, for columns prefixed with p.
func activeClause(p string, at int64, a *args) string {
	x := a.add(at)
	return "coalesce(" + p + "valid_from, " + p + "created_at) <= " + x + " AND (" + p + "invalidated_at IS NULL OR " + p + "invalidated_at > " + x + ") AND (" +
		p + "valid_until IS NULL OR " + p + "valid_until > " + x + ") AND (" + p + "archived_at IS NULL OR " + p + "archived_at > " + x + ")"
}

// factLockKey is the advisory lock key of a fact in a scope: a 64-bit
// hash (collisions only serialise two unrelated facts).
func factLockKey(scope memory.Scope, key string) int64 {
	h := fnv.New64a()
	h.Write([]byte(scope))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return int64(h.Sum64())
}

// lockFact takes the fact's transaction advisory lock (once per write):
// FactRows and every write of a row stating the fact take it first, so
// two hosts' decisions about one fact (supersede, merge) serialise, and
// the second reads what the first committed.
func (t *tx) lockFact(scope memory.Scope, key *string) error {
	if key == nil {
		return nil
	}
	k := factLockKey(scope, *key)
	if t.factLocks == nil {
		t.factLocks = map[int64]bool{}
	}
	if t.factLocks[k] {
		return nil
	}
	if _, err := t.exec("SELECT pg_advisory_xact_lock($1)", k); err != nil {
		return fmt.Errorf("lock fact %s in %s: %w", *key, scope, err)
	}
	t.factLocks[k] = true
	// The wait may have been long: rows this write stamps from now on
	// (created_at, updated_at, replaced_at) are later than the commit of
	// the write it waited for, as under the SQLite store's lock, so a
	// fact's values keep their order in time.
	t.now = max(t.now, t.s.opts.Clock().UnixMilli())
	return nil
}

// Facts returns the rows of one fact within acc: see store.Reader.
func (s *Store) Facts(ctx context.Context, acc memory.Access, q store.FactQuery) ([]memory.Memory, error) {
	if q.FactKey == "" {
		return nil, memory.Invalidf("fact query without a fact key: name the fact (fact_key, e.g. preferences:editor)")
	}
	if unstorable(q.FactKey) {
		return []memory.Memory{}, nil // no row states it
	}
	limit := q.Limit
	switch {
	case limit < 0:
		return nil, memory.Invalidf("fact query limit %d is negative", limit)
	case limit == 0:
		limit = store.DefaultFactLimit
	}
	var a args
	sql := "SELECT " + cols + " FROM memories WHERE fact_key = " + a.add(q.FactKey) + " AND " + scopeClause("", acc, q.Scopes, &a) +
		" ORDER BY " + validFromExpr + " DESC, id DESC LIMIT " + a.add(limit)
	rows, err := s.pool.Query(ctx, sql, a...)
	if err != nil {
		return nil, fmt.Errorf("read fact %s: %w", q.FactKey, err)
	}
	ms, err := scanAll(rows, false)
	if err != nil {
		return nil, fmt.Errorf("read fact %s: %w", q.FactKey, err)
	}
	if ms == nil {
		ms = []memory.Memory{}
	}
	return ms, nil
}

// FactRows reads the rows of a fact in one scope inside the write, after
// taking the fact's lock: see store.Tx and lockFact.
func (t *tx) FactRows(scope memory.Scope, factKey string) ([]memory.Memory, error) {
	if factKey == "" {
		return nil, memory.Invalidf("fact rows without a fact key: name the fact (fact_key)")
	}
	if !t.acc.Allows(scope) {
		return nil, &memory.ScopeDeniedError{Scope: scope}
	}
	if unstorable(factKey) || unstorable(string(scope)) {
		return nil, nil // no row states it
	}
	if err := t.lockFact(scope, &factKey); err != nil {
		return nil, err
	}
	rows, err := t.tx.Query(t.ctx, "SELECT "+cols+" FROM memories WHERE fact_key = $1 AND scope = $2 ORDER BY "+validFromExpr+" DESC, id DESC",
		factKey, string(scope))
	if err != nil {
		return nil, fmt.Errorf("read fact %s in %s: %w", factKey, scope, err)
	}
	ms, err := scanAll(rows, false)
	if err != nil {
		return nil, fmt.Errorf("read fact %s in %s: %w", factKey, scope, err)
	}
	return ms, nil
}

// jsonValue decodes one JSON value (a jsonb column or path) into *p.
func jsonValue(raw []byte, p *any) error {
	if err := json.Unmarshal(raw, p); err != nil {
		return fmt.Errorf("stored metadata value is not valid JSON: %w (run trove doctor)", err)
	}
	return nil
}
