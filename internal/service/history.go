package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// HistoryInput names the memory whose versions to list.
type HistoryInput struct {
	ID    string `json:"id" jsonschema:"the memory's id (a unique prefix of at least 8 characters works while it exists; a deleted memory needs its full id)"`
	Limit int    `json:"limit,omitempty" jsonschema:"at most this many versions, newest first (default 20, at most 200)"`
}

// Version is one kept version of a memory, with the change that replaced it.
type Version struct {
	store.Version
	// Diff is what the change that replaced this version did to the text:
	// "[-removed-]{+added+}" word by word (line by line for texts of
	// several lines); empty when the text did not change.
	Diff string `json:"diff,omitempty" jsonschema:"the text change that replaced this version: [-removed-]{+added+}; empty when the text stayed"`
}

// HistoryOutput is a memory's history, newest first.
type HistoryOutput struct {
	ID string `json:"id"`
	// Current is the memory as it is now; absent once deleted.
	Current  *Memory   `json:"current,omitempty"`
	Deleted  bool      `json:"deleted" jsonschema:"the memory is deleted: trove restore brings back its newest version"`
	Versions []Version `json:"versions" jsonschema:"earlier versions, newest first, each with who replaced it, when, and how"`
}

// History lists the kept versions of a memory, newest first. A caller
// sees only versions in scopes it reads, and nothing of a memory whose
// current scope (or, deleted, last scope) it does not read.
func (s *Service) History(ctx context.Context, c Caller, in HistoryInput) (HistoryOutput, error) {
	acc, err := s.access(c)
	if err != nil {
		return HistoryOutput{}, err
	}
	n, err := limit("limit", in.Limit, DefaultHistoryLimit, MaxHistoryLimit)
	if err != nil {
		return HistoryOutput{}, err
	}
	id, err := s.resolveAny(ctx, acc, in.ID)
	if err != nil {
		return HistoryOutput{}, err
	}
	vs, err := s.opts.Store.History(ctx, acc, id, n)
	if err != nil {
		return HistoryOutput{}, ErrorOf(err)
	}
	out := HistoryOutput{ID: id, Versions: make([]Version, len(vs))}
	next := ""
	cur, err := s.opts.Store.Get(ctx, acc, id)
	switch {
	case err == nil:
		v := View(cur)
		out.Current, next = &v, cur.Text
	case errors.Is(err, memory.ErrNotFound):
		out.Deleted = true
	default:
		return HistoryOutput{}, ErrorOf(err)
	}
	for i, v := range vs {
		out.Versions[i] = Version{Version: v}
		if v.Change == store.ChangeUpdate || i > 0 {
			out.Versions[i].Diff = TextDiff(v.Text, next)
		}
		next = v.Text
	}
	return out, nil
}

// resolveAny resolves a live memory's id or prefix; an id no live row has
// is taken as given (a deleted memory), once validated.
func (s *Service) resolveAny(ctx context.Context, acc memory.Access, id string) (string, error) {
	full, err := s.resolve(ctx, acc, id)
	if err == nil || !errors.Is(err, memory.ErrNotFound) {
		return full, err
	}
	return strings.TrimSpace(id), nil
}

// RevertInput names the version to write back.
type RevertInput struct {
	ID string `json:"id" jsonschema:"the memory's id, or a unique prefix of at least 8 characters"`
	To int64  `json:"to" jsonschema:"the revision to go back to (from memory_history)"`
	// ExpectedRevision, when set, refuses the revert if the memory moved on.
	ExpectedRevision int64 `json:"expected_revision,omitempty" jsonschema:"the revision you read; the revert fails with conflict if the memory changed since"`
}

// Revert writes version To of a memory back as a new revision: its text,
// category, scope, importance, format and metadata (recall counters stay
// as recorded). The write is revision-checked against ExpectedRevision,
// or else the revision read before the text was embedded: a revert
// computed from an old read is refused with conflict.
func (s *Service) Revert(ctx context.Context, c Caller, in RevertInput) (Memory, error) {
	acc, err := s.access(c)
	if err != nil {
		return Memory{}, err
	}
	if in.To <= 0 {
		return Memory{}, Invalid("to %d is not a revision: give the revision to go back to, from the memory's history", in.To)
	}
	if in.ExpectedRevision < 0 {
		return Memory{}, Invalid("expected_revision %d is negative: give the revision you read", in.ExpectedRevision)
	}
	id, err := s.resolve(ctx, acc, in.ID)
	if err != nil {
		return Memory{}, err
	}
	cur, err := s.opts.Store.Get(ctx, acc, id)
	if err != nil {
		return Memory{}, ErrorOf(err)
	}
	expected := in.ExpectedRevision
	if expected == 0 {
		expected = cur.Revision
	}
	if expected != cur.Revision {
		return Memory{}, ErrorOf(&memory.ConflictError{ID: id, Expected: expected, Actual: cur.Revision})
	}
	if in.To == cur.Revision {
		return Memory{}, Invalid("memory %s is at revision %d already: nothing to revert", id, in.To)
	}
	vs, err := s.opts.Store.History(ctx, acc, id, 0)
	if err != nil {
		return Memory{}, ErrorOf(err)
	}
	var v *store.Version
	for i := range vs {
		if vs[i].Revision == in.To {
			v = &vs[i]
			break
		}
	}
	if v == nil {
		return Memory{}, &Error{Code: CodeNotFound, Err: memory.ErrNotFound,
			Message: fmt.Sprintf("memory %s has no kept revision %d: list its versions with trove history (versions past the retention are pruned)", id, in.To)}
	}
	var vec []float32
	if v.Text != cur.Text {
		vs, err := s.embed(ctx, []string{v.Text})
		if err != nil {
			return Memory{}, err
		}
		vec = vs[0]
	}
	var out memory.Memory
	write := func(tx store.Tx) error {
		m, err := tx.Get(id)
		if err != nil {
			return err
		}
		if m.Revision != expected {
			return &memory.ConflictError{ID: id, Expected: expected, Actual: m.Revision}
		}
		m.Text, m.Category, m.Scope, m.Importance, m.Format = v.Text, v.Category, v.Scope, v.Importance, v.Format
		m.Metadata = memory.CloneMetadata(v.Metadata)
		m.Vector = vec
		if err := tx.Update(&m); err != nil {
			return err
		}
		out = m
		return nil
	}
	err = s.writeEmbedded(ctx, acc, len(vec) > 0, func() { vec = []float32{} }, write) // empty: no vector
	if err != nil {
		return Memory{}, ErrorOf(err)
	}
	return View(out), nil
}

// RestoreInput names a deleted memory.
type RestoreInput struct {
	ID string `json:"id" jsonschema:"the deleted memory's full id"`
}

// Restore brings back a deleted memory as it was when deleted (its newest
// kept version), as a new revision, while history still keeps it. Its
// text is embedded before the write lock is taken.
func (s *Service) Restore(ctx context.Context, c Caller, in RestoreInput) (Memory, error) {
	acc, err := s.access(c)
	if err != nil {
		return Memory{}, err
	}
	id, err := s.resolveAny(ctx, acc, in.ID)
	if err != nil {
		return Memory{}, err
	}
	vs, err := s.opts.Store.History(ctx, acc, id, 1)
	if err != nil {
		return Memory{}, ErrorOf(err)
	}
	if len(vs) == 0 || vs[0].Change != store.ChangeDelete {
		return Memory{}, &Error{Code: CodeConflict, Err: memory.ErrExists,
			Message: fmt.Sprintf("memory %s is not deleted: to go back to an earlier version use trove revert", id)}
	}
	m := vs[0].Memory()
	m.Revision++
	m.UpdatedAt = s.opts.Clock().UnixMilli()
	v, err := s.embed(ctx, []string{m.Text})
	if err != nil {
		return Memory{}, err
	}
	m.Vector = v[0]
	err = s.writeEmbedded(ctx, acc, len(m.Vector) > 0, func() { m.Vector = nil },
		func(tx store.Tx) error { return tx.Restore(&m) })
	if err != nil {
		return Memory{}, ErrorOf(err)
	}
	return View(m), nil
}

// capturedFrom is the capture buffer's key of the session m was captured
// from, "" when m was not captured.
func capturedFrom(m memory.Memory) string {
	session := memory.MetaString(m.Metadata, "session")
	if session == "" || memory.MetaString(m.Metadata, memory.KeySource) != "auto-capture" {
		return ""
	}
	agent := memory.MetaString(m.Metadata, "captured_by")
	if agent == memory.OwnerName {
		agent = ""
	}
	return bufferKey(agent, session)
}

// purge erases a memory for good (Forget with Purge): the owner only.
func (s *Service) purge(ctx context.Context, c Caller, acc memory.Access, in ForgetInput) (ForgetOutput, error) {
	if c.Agent != "" || !acc.All() {
		return ForgetOutput{}, &Error{Code: CodeScopeDenied, Err: memory.ErrScopeDenied,
			Message: "only the store's owner may purge a memory: delete it instead (it can then be restored until its history is pruned)"}
	}
	if in.ExpectedRevision != 0 {
		return ForgetOutput{}, Invalid("purge takes no expected_revision: it erases every revision")
	}
	id, err := s.resolveAny(ctx, acc, in.ID)
	if err != nil {
		return ForgetOutput{}, err
	}
	var e store.Erasure
	var messages int
	if err := store.WriteAgain(ctx, s.opts.Store, acc, func(tx store.Tx) error {
		// A captured memory takes the conversation it came from with it:
		// the session's consumed messages are erased in the same write.
		key := ""
		if m, err := tx.Get(id); err == nil {
			key = capturedFrom(m)
		}
		var err error
		if e, err = tx.Purge(id); err != nil {
			return err
		}
		if btx, ok := tx.(store.BufferTx); ok && key != "" {
			messages, err = btx.EraseSession(key)
		}
		return err
	}); err != nil {
		return ForgetOutput{}, ErrorOf(err)
	}
	return ForgetOutput{ID: id, Deleted: e.HadRow, Purged: true, Versions: e.Versions, Messages: messages}, nil
}

// TextDiff shows how text a became b: words (lines, when either has
// several) removed as [-…-] and added as {+…+}, the rest as is. Empty
// when they are equal.
func TextDiff(a, b string) string {
	if a == b {
		return ""
	}
	sep := " "
	split := strings.Fields
	if strings.Contains(a, "\n") || strings.Contains(b, "\n") {
		sep = "\n"
		split = func(s string) []string { return strings.Split(s, "\n") }
	}
	x, y := split(a), split(b)
	if len(x)*len(y) > maxDiffCells { // too long to align: all of a for all of b
		return "[-" + a + "-]{+" + b + "+}"
	}
	// Longest common subsequence, then walk it.
	l := make([][]int, len(x)+1)
	for i := range l {
		l[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	var out []string
	var del, add []string
	joint := "" // a removal and its replacement side by side: [-a-]{+b+}
	if sep == "\n" {
		joint = "\n"
	}
	flush := func() {
		var parts []string
		if len(del) > 0 {
			parts = append(parts, "[-"+strings.Join(del, sep)+"-]")
		}
		if len(add) > 0 {
			parts = append(parts, "{+"+strings.Join(add, sep)+"+}")
		}
		if len(parts) > 0 {
			out = append(out, strings.Join(parts, joint))
		}
		del, add = nil, nil
	}
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			flush()
			out = append(out, x[i])
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || l[i][j+1] >= l[i+1][j]):
			add = append(add, y[j])
			j++
		default:
			del = append(del, x[i])
			i++
		}
	}
	flush()
	return strings.Join(out, sep)
}

// maxDiffCells bounds the diff's table (words × words): two texts of the
// largest size are compared whole rather than word by word.
const maxDiffCells = 1 << 20
