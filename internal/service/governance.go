package service

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/retrieve"
	"github.com/trove-memory/trove/internal/store"
)

// Governance: a memory's state (pending, confirmed, archived) and layer
// (durable, working, reflection, archive), as memory-lancedb-pro's
// memory_promote, memory_archive and memory_compact set them. Archiving
// is an edit (a new revision, the old one kept in history) that makes the
// row inactive from archived_at on (memory.ActiveAt): recall,
// recall-context and list no longer return it unless asked for history.

// Target names the memory a governance operation acts on: an id (or a
// unique prefix), else the best recall hit for a query among the active
// memories the caller may write.
type Target struct {
	ID    string `json:"id,omitempty" jsonschema:"the memory's id, or a unique prefix of at least 8 characters; give this or query"`
	Query string `json:"query,omitempty" jsonschema:"find the memory by recall: the best active match is used; give this or id"`
	Scope string `json:"scope,omitempty" jsonschema:"with query: search only this scope"`
}

// PromoteInput confirms a memory.
type PromoteInput struct {
	Target
	State string `json:"state,omitempty" jsonschema:"pending or confirmed (default confirmed); archive with memory_archive"`
	Layer string `json:"layer,omitempty" jsonschema:"durable, working, reflection or archive (default durable)"`
}

// ArchiveInput archives a memory.
type ArchiveInput struct {
	Target
	Reason string `json:"reason,omitempty" jsonschema:"why, for the audit trail (default manual_archive)"`
}

// GovernOutput is the memory as a governance operation left it.
type GovernOutput struct {
	Memory Memory `json:"memory"`
	// Changed is false when the memory already was as asked (nothing
	// was written).
	Changed bool `json:"changed"`
}

// Archive reasons trove writes itself.
const (
	ReasonManual  = "manual_archive"
	ReasonCompact = "compact_duplicate"
	ReasonExpired = "expired"
)

// maxReason bounds an archive reason (it is kept in metadata).
const maxReason = 500

// Promote sets a memory's state (default confirmed) and layer (default
// durable), clears its auto-recall suppression and bad-recall count, and
// brings it back from the archive if it was archived. It is an edit: a
// new revision, the old one kept in history.
func (s *Service) Promote(ctx context.Context, c Caller, in PromoteInput) (GovernOutput, error) {
	state, layer := cmp.Or(strings.TrimSpace(in.State), memory.StateConfirmed), cmp.Or(strings.TrimSpace(in.Layer), memory.LayerDurable)
	switch {
	case state == memory.StateArchived:
		return GovernOutput{}, Invalid("state archived is set by archiving: use memory_archive (trove archive)")
	case !memory.ValidState(state):
		return GovernOutput{}, Invalid("state %q is not one of pending, confirmed", state)
	case !memory.ValidLayer(layer):
		return GovernOutput{}, Invalid("layer %q is not one of durable, working, reflection, archive", layer)
	}
	acc, id, err := s.target(ctx, c, in.Target)
	if err != nil {
		return GovernOutput{}, err
	}
	now := s.opts.Clock().UnixMilli()
	return s.govern(ctx, acc, id, func(m *memory.Memory) bool {
		if promoted(m.Metadata, state, layer) {
			return false
		}
		md := memory.CloneMetadata(m.Metadata)
		if md == nil {
			md = map[string]any{}
		}
		md[memory.KeyState], md[memory.KeyLayer] = state, layer
		if state == memory.StateConfirmed {
			md[memory.KeyLastConfirmedUseAt] = float64(now)
		}
		md[memory.KeyBadRecallCount] = float64(0)
		delete(md, memory.KeySuppressedUntil)
		for _, k := range []string{memory.KeyArchivedAt, memory.KeyArchiveReason, memory.KeyCanonicalID} {
			delete(md, k) // the archived revision keeps them in history
		}
		m.Metadata, m.Vector = md, nil
		return true
	})
}

// govern is one promote or archive: in one write it reads the memory,
// lets change edit it (false: nothing to change) and stores the edit,
// revision-checked by the read in the same transaction.
func (s *Service) govern(ctx context.Context, acc memory.Access, id string, change func(m *memory.Memory) bool) (GovernOutput, error) {
	var out GovernOutput
	err := store.WriteAgain(ctx, s.opts.Store, acc, func(tx store.Tx) error {
		m, err := tx.Get(id)
		if err != nil {
			return err
		}
		if !change(&m) {
			out = GovernOutput{Memory: View(m)}
			return nil
		}
		if err := tx.Update(&m); err != nil {
			return err
		}
		out = GovernOutput{Memory: View(m), Changed: true}
		return nil
	})
	if err != nil {
		return GovernOutput{}, ErrorOf(err)
	}
	return out, nil
}

// promoted reports whether metadata md already says what a promotion to
// state and layer would write, apart from the confirmation time.
func promoted(md map[string]any, state, layer string) bool {
	if memory.MetaString(md, memory.KeyState) != state || memory.MetaString(md, memory.KeyLayer) != layer {
		return false
	}
	if n, ok := memory.MetaNumber(md, memory.KeyBadRecallCount); ok && n != 0 {
		return false
	}
	for _, k := range []string{memory.KeySuppressedUntil, memory.KeyArchivedAt, memory.KeyArchiveReason, memory.KeyCanonicalID} {
		if _, ok := md[k]; ok {
			return false
		}
	}
	return state != memory.StateConfirmed // a confirmation records its time
}

// Archive archives a memory: state archived, layer archive, archived_at
// now and the reason. From then on it is not recalled, injected or listed
// unless history is asked for. An archived memory is left as it is.
func (s *Service) Archive(ctx context.Context, c Caller, in ArchiveInput) (GovernOutput, error) {
	reason := cmp.Or(strings.TrimSpace(in.Reason), ReasonManual)
	if len(reason) > maxReason {
		return GovernOutput{}, Invalid("reason is %d bytes, over the %d-byte limit: say why in a sentence", len(reason), maxReason)
	}
	acc, id, err := s.target(ctx, c, in.Target)
	if err != nil {
		return GovernOutput{}, err
	}
	now := s.opts.Clock().UnixMilli()
	return s.govern(ctx, acc, id, func(m *memory.Memory) bool {
		if memory.ArchivedAt(*m) != 0 {
			return false
		}
		markArchived(m, reason, "", now)
		return true
	})
}

// markArchived marks m archived at unix-ms now, for reason, folded into the
// memory canonical when that is not "". It keeps the stored vector.
func markArchived(m *memory.Memory, reason, canonical string, now int64) {
	md := memory.CloneMetadata(m.Metadata)
	if md == nil {
		md = map[string]any{}
	}
	md[memory.KeyState], md[memory.KeyLayer] = memory.StateArchived, memory.LayerArchive
	md[memory.KeyArchivedAt], md[memory.KeyArchiveReason] = float64(now), reason
	if canonical != "" {
		md[memory.KeyCanonicalID] = canonical
	}
	m.Metadata, m.Vector = md, nil
}

// target resolves t to one memory id the caller may write, with the
// caller's access.
func (s *Service) target(ctx context.Context, c Caller, t Target) (memory.Access, string, error) {
	acc, err := s.access(c)
	if err != nil {
		return acc, "", err
	}
	id, q := strings.TrimSpace(t.ID), strings.TrimSpace(t.Query)
	switch {
	case id != "" && q != "":
		return acc, "", Invalid("give id or query, not both")
	case id != "":
		full, err := s.resolve(ctx, acc, id)
		return acc, full, err
	case q == "":
		return acc, "", Invalid("no memory named: give its id, or a query to find it by")
	case len(q) > MaxQueryBytes:
		return acc, "", Invalid("query is %d bytes, over the %d-byte limit: shorten it", len(q), MaxQueryBytes)
	}
	var scopes []memory.Scope
	if t.Scope != "" {
		sc, err := memory.ParseScope(t.Scope)
		if err != nil {
			return acc, "", Invalid("scope: %s", err.Error())
		}
		if !acc.Allows(sc) {
			return acc, "", ErrorOf(&memory.ScopeDeniedError{Scope: sc})
		}
		scopes = []memory.Scope{sc}
	}
	resp, err := s.search(ctx, acc, retrieve.Request{Query: q, Scopes: scopes, Limit: 1, AsOf: s.opts.Clock().UnixMilli()})
	if err != nil {
		return acc, "", err
	}
	if len(resp.Results) == 0 {
		return acc, "", &Error{Code: CodeNotFound, Err: memory.ErrNotFound, Message: "no active memory matches the query: give the memory's id (memory_list shows them)"}
	}
	return acc, resp.Results[0].Memory.ID, nil
}

// CompactInput asks for duplicate memories to be archived.
type CompactInput struct {
	Scopes []string `json:"scopes,omitempty" jsonschema:"compact only these scopes (default every scope you may write)"`
	// DryRun (the default) reports what would be archived.
	DryRun *bool `json:"dry_run,omitempty" jsonschema:"only report what would be archived (default true); false archives"`
	// Limit, when set, scans only the newest Limit active rows (as
	// memory-lancedb-pro's memory_compact limit); 0 scans every row.
	Limit int `json:"limit,omitempty" jsonschema:"scan only the newest this many active memories (default: every one)"`
}

// CompactGroup is one set of near-identical memories: Keep stays, the
// others are (or would be) archived with canonical_id Keep.
type CompactGroup struct {
	Key     string   `json:"key" jsonschema:"scope, memory category and normalised abstract the memories share"`
	Keep    string   `json:"keep"`
	Archive []string `json:"archive"`
}

// CompactOutput reports a compaction.
type CompactOutput struct {
	DryRun     bool           `json:"dry_run"`
	Scanned    int            `json:"scanned"`
	Duplicates int            `json:"duplicates"`
	Archived   int            `json:"archived"`
	Skipped    int            `json:"skipped,omitempty" jsonschema:"duplicates left alone because they (or the kept memory) changed during the compaction"`
	Groups     []CompactGroup `json:"groups"`
	// Warnings name requested scopes the caller may not write.
	Warnings      []string       `json:"warnings,omitempty"`
	IgnoredScopes []memory.Scope `json:"ignored_scopes,omitempty"`
}

// CompactBatch is how many duplicates one write archives, so a large
// compaction holds the write lock briefly and lets others in between.
const CompactBatch = 64

// maxCompactGroups is how many groups CompactOutput lists.
const maxCompactGroups = 200

// Compact finds active memories that say the same thing: within a scope,
// the same memory category and the same normalised L0 abstract (its text
// when it has none). In each group the newest is kept and the others are
// archived (reason compact_duplicate, canonical_id the kept memory), in
// batches of CompactBatch, each row re-read under the lock: one that
// changed since the scan (another revision), or whose kept memory is no
// longer active, is skipped. By default it only reports (DryRun).
//
// Unlike memory-lancedb-pro, which compacts the newest 200 rows across
// scopes, trove groups within a scope (an agent's row is not folded into
// a global one) and scans every active row of the scopes, or the newest
// Limit of them.
func (s *Service) Compact(ctx context.Context, c Caller, in CompactInput) (CompactOutput, error) {
	acc, err := s.access(c)
	if err != nil {
		return CompactOutput{}, err
	}
	req, err := parseScopes(in.Scopes)
	if err != nil {
		return CompactOutput{}, err
	}
	if in.Limit < 0 || in.Limit > MaxCompactLimit {
		return CompactOutput{}, Invalid("limit %d is out of range: use 1 to %d to scan the newest memories, or leave it out to scan every one", in.Limit, MaxCompactLimit)
	}
	scopes, ignored := readScopes(acc, req)
	out := CompactOutput{DryRun: in.DryRun == nil || *in.DryRun, Groups: []CompactGroup{}, IgnoredScopes: ignored,
		Warnings: ignoredWarning(acc, ignored, len(scopes) > 0)}
	now := s.opts.Clock().UnixMilli()

	type row struct {
		id      string
		rev     int64
		created int64
	}
	groups := map[string][]row{}
	var keys []string
	visit := func(m memory.Memory) error {
		out.Scanned++
		key := compactKey(m)
		if key == "" {
			return nil
		}
		if _, seen := groups[key]; !seen {
			keys = append(keys, key)
		}
		groups[key] = append(groups[key], row{m.ID, m.Revision, m.CreatedAt})
		return nil
	}
	f := store.Filter{Scopes: scopes, ActiveAt: now}
	if in.Limit > 0 {
		err = s.scanNewest(ctx, acc, f, in.Limit, visit)
	} else {
		err = s.opts.Store.Scan(ctx, acc, store.ScanOptions{Filter: f}, visit)
	}
	if err != nil {
		return CompactOutput{}, ErrorOf(err)
	}
	type drop struct {
		id, keep string
		rev      int64
	}
	var drops []drop
	for _, k := range keys {
		rs := groups[k]
		if len(rs) < 2 {
			continue
		}
		// Newest first: created_at, then id, descending (List's order).
		slices.SortFunc(rs, func(a, b row) int {
			return cmp.Or(cmp.Compare(b.created, a.created), strings.Compare(b.id, a.id))
		})
		g := CompactGroup{Key: k, Keep: rs[0].id}
		for _, r := range rs[1:] {
			g.Archive = append(g.Archive, r.id)
			drops = append(drops, drop{r.id, rs[0].id, r.rev})
		}
		out.Duplicates += len(g.Archive)
		if len(out.Groups) < maxCompactGroups {
			out.Groups = append(out.Groups, g)
		}
	}
	if out.DryRun {
		return out, nil
	}
	for batch := range slices.Chunk(drops, CompactBatch) {
		archived, skipped := 0, 0
		err := store.WriteAgain(ctx, s.opts.Store, acc, func(tx store.Tx) error {
			archived, skipped = 0, 0
			for _, d := range batch {
				keep, err := tx.Get(d.keep)
				if err != nil && !isNotFound(err) {
					return err
				}
				m, err2 := tx.Get(d.id)
				if err2 != nil && !isNotFound(err2) {
					return err2
				}
				if err != nil || err2 != nil || m.Revision != d.rev || !memory.ActiveAt(keep, now) || !memory.ActiveAt(m, now) {
					skipped++
					continue
				}
				markArchived(&m, ReasonCompact, d.keep, now)
				if err := tx.Update(&m); err != nil {
					return err
				}
				archived++
			}
			return nil
		})
		if err != nil {
			return out, ErrorOf(err)
		}
		out.Archived += archived
		out.Skipped += skipped
	}
	return out, nil
}

// scanNewest calls visit for the newest n rows that f selects, newest
// first, a page of List at a time.
func (s *Service) scanNewest(ctx context.Context, acc memory.Access, f store.Filter, n int, visit func(memory.Memory) error) error {
	cursor := ""
	for n > 0 {
		page, err := s.opts.Store.List(ctx, acc, store.ListOptions{Filter: f, Limit: min(n, MaxListLimit), Cursor: cursor})
		if err != nil {
			return err
		}
		for _, m := range page.Memories {
			if err := visit(m); err != nil {
				return err
			}
		}
		n -= len(page.Memories)
		if cursor = page.NextCursor; cursor == "" || len(page.Memories) == 0 {
			return nil
		}
	}
	return nil
}

// compactKey is the group a memory compacts in: its scope, memory
// category and normalised L0 abstract (else text); "" when it has no
// words to compare.
func compactKey(m memory.Memory) string {
	l0 := cmp.Or(strings.TrimSpace(memory.MetaString(m.Metadata, memory.KeyL0)), m.Text)
	norm := capture.Normalize(l0)
	if norm == "" {
		return ""
	}
	return string(m.Scope) + "|" + string(memory.SmartCategoryOf(m)) + "|" + norm
}

func isNotFound(err error) bool { return errors.As(err, new(*memory.NotFoundError)) }

// DefaultExpiryGrace is how long a memory past its valid_until stays
// unarchived (it is already not recalled): a window to promote or edit it.
const DefaultExpiryGrace = 7 * 24 * time.Hour

// ArchiveExpiredTask archives memories whose valid_until passed more than
// grace ago (reason expired, archived_at now), in writes of CompactBatch
// rows, each row re-read under the lock and left alone when it changed
// since the scan (its next run sees it again). Expired rows are already
// not recalled (memory.ActiveAt); archiving marks them for what reads
// state, and is an edit with history like any archive.
func ArchiveExpiredTask(st store.Store, grace time.Duration, now func() time.Time) Task {
	return Task{Name: "archive expired", Run: func(ctx context.Context) error {
		_, err := ArchiveExpired(ctx, st, grace, now)
		return err
	}}
}

// ArchiveExpired is one run of ArchiveExpiredTask; it returns how many
// memories it archived.
func ArchiveExpired(ctx context.Context, st store.Store, grace time.Duration, now func() time.Time) (int, error) {
	at := now()
	cutoff := at.Add(-grace).UnixMilli()
	type row struct {
		id  string
		rev int64
	}
	var rows []row
	f := store.Filter{ExpiredBefore: cutoff, Unarchived: true}
	err := st.Scan(ctx, memory.Owner(), store.ScanOptions{Filter: f, PageSize: 200}, func(m memory.Memory) error {
		rows = append(rows, row{m.ID, m.Revision})
		return nil
	})
	if err != nil {
		return 0, err
	}
	archived := 0
	// A backlog of expiries (a first run, or a large import of dated
	// facts) is many writes: paced like the maintenance pass, so a live
	// writer does not queue behind them.
	pace := newPacer(ctx, st, DefaultLockShare)
	for batch := range slices.Chunk(rows, CompactBatch) {
		if err := pace.wait(ctx); err != nil {
			return archived, err
		}
		n := 0
		start := time.Now()
		err := store.WriteAgain(ctx, st, memory.Owner(), func(tx store.Tx) error {
			n = 0
			for _, r := range batch {
				m, err := tx.Get(r.id)
				if isNotFound(err) {
					continue
				}
				if err != nil {
					return err
				}
				if m.Revision != r.rev || !f.Matches(m) {
					continue
				}
				markArchived(&m, ReasonExpired, "", at.UnixMilli())
				if err := tx.Update(&m); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		pace.wrote(time.Since(start))
		if err != nil {
			return archived, err
		}
		archived += n
	}
	return archived, nil
}
