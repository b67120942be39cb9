package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/extract"
	"github.com/trove-memory/trove/internal/redact"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/retrieve"
	"github.com/trove-memory/trove/internal/store"
)

// StoreInput is a new memory.
type StoreInput struct {
	// ID is kept when given (imports, scripts); empty means a new UUID.
	ID         string         `json:"id,omitempty" jsonschema:"use this id instead of a new UUID (at most 128 bytes); fails with conflict if it exists"`
	Text       string         `json:"text" jsonschema:"the memory: one self-contained statement worth keeping across sessions"`
	Category   string         `json:"category,omitempty" jsonschema:"preference, fact, decision, entity, reflection or other (default other)"`
	Scope      string         `json:"scope,omitempty" jsonschema:"global, agent:<id>, user:<id>, project:<id>, custom:<name>, reflection:agent:<id> or a declared name; you may write only scopes you can reach. Default: agent:<your id> when you may write it, else the configured default (global)"`
	Importance *float64       `json:"importance,omitempty" jsonschema:"0 to 1 (default 0.7)"`
	Metadata   map[string]any `json:"metadata,omitempty" jsonschema:"extra fields to keep with the memory (a JSON object)"`
	// Force stores it even when an active memory of its scope says the same.
	Force bool `json:"force,omitempty" jsonschema:"store even when a stored memory says the same"`
}

// The outcomes of Store.
const (
	StoreCreated    = "created"
	StoreDuplicate  = "duplicate"
	StoreSuperseded = "superseded"
)

// StoreOutput is the memory Store wrote, or the one it found already
// stored, and which of the two happened.
type StoreOutput struct {
	Memory
	// Outcome is created, duplicate (nothing was written: the memory is
	// the stored one it repeats) or superseded (created, replacing the
	// active value of the same fact, listed in Supersedes).
	Outcome    string   `json:"outcome" jsonschema:"created, duplicate (nothing written; this is the stored memory it repeats) or superseded (created, replacing the previous value of the same fact)"`
	Supersedes []string `json:"supersedes,omitempty" jsonschema:"ids of the memories this one replaced"`
}

// Store validates, checks and inserts a memory. It is refused (invalid
// argument, nothing written) when it is noise or looks like a secret
// (unless the operator allowed secrets); it is a duplicate when an active
// memory of its scope says the same (unless Force); a preference or
// entity replaces the active value of its fact (same fact_key) in the same
// transaction. Embedding happens before the write lock is taken.
func (s *Service) Store(ctx context.Context, c Caller, in StoreInput) (StoreOutput, error) {
	acc, err := s.access(c)
	if err != nil {
		return StoreOutput{}, err
	}
	m := memory.Memory{ID: in.ID, Text: in.Text, Category: memory.CategoryOther, Importance: DefaultImportance, Metadata: in.Metadata}
	if in.Category != "" {
		if m.Category, err = memory.ParseCategory(in.Category); err != nil {
			return StoreOutput{}, Invalid("category: %s", err.Error())
		}
	}
	if in.Importance != nil {
		m.Importance = *in.Importance
	}
	m.Scope = memory.GlobalScope // a placeholder for Validate
	// The memory is complete and valid before we spend an embedding call.
	if err := m.Validate(); err != nil {
		return StoreOutput{}, ErrorOf(err)
	}
	if m.Scope, err = s.writeScope(c, acc, in.Scope); err != nil {
		return StoreOutput{}, err
	}
	if err := s.refuse(m.Text); err != nil {
		return StoreOutput{}, err
	}
	key := s.stampFact(&m, s.opts.Clock())
	vs, err := s.embed(ctx, []string{m.Text})
	if err != nil {
		return StoreOutput{}, err
	}
	m.Vector = vs[0]
	// A caller naming the id (a script, an import) names the record: it
	// is stored as given.
	if !in.Force && in.ID == "" {
		dup, err := s.duplicateOf(ctx, acc, m)
		if err != nil {
			return StoreOutput{}, err
		}
		if dup != nil {
			return StoreOutput{Memory: View(*dup), Outcome: StoreDuplicate}, nil
		}
	}
	out := StoreOutput{Outcome: StoreCreated}
	base := m // the write may run again (store.WriteAgain): each run starts from it
	base.Metadata = memory.CloneMetadata(m.Metadata)
	err = s.writeEmbedded(ctx, acc, len(m.Vector) > 0, func() { m.Vector, base.Vector = nil, nil }, func(tx store.Tx) error {
		out = StoreOutput{Outcome: StoreCreated}
		m = base
		m.Metadata = memory.CloneMetadata(base.Metadata)
		if key == "" {
			return tx.Insert(&m)
		}
		// The fact's active values are read inside the write: a value
		// committed by someone else since we looked is seen here.
		rows, err := tx.FactRows(m.Scope, key)
		if err != nil {
			return err
		}
		// The time is taken once the fact's rows are read (on a shared
		// server, after waiting for another host's write of the fact):
		// a value committed since the embedding is active now, and never
		// later than now even when that host's clock runs ahead.
		now := s.opts.Clock().UnixMilli()
		for _, r := range rows {
			if memory.ValidFrom(r) == r.CreatedAt && r.CreatedAt > now {
				now = r.CreatedAt
			}
		}
		var old []memory.Memory
		for _, r := range rows {
			if !memory.ActiveAt(r, now) {
				continue
			}
			if !in.Force && in.ID == "" && capture.Normalize(r.Text) == capture.Normalize(m.Text) {
				out = StoreOutput{Memory: View(r), Outcome: StoreDuplicate}
				return nil
			}
			old = append(old, r)
		}
		if len(old) > 0 {
			m.Metadata = memory.CloneMetadata(m.Metadata)
			m.Metadata[memory.KeySupersedes] = old[0].ID
		}
		if err := tx.Insert(&m); err != nil {
			return err
		}
		for _, r := range old {
			if err := invalidate(tx, r, m.ID, now); err != nil {
				return err
			}
			out.Supersedes = append(out.Supersedes, r.ID)
			out.Outcome = StoreSuperseded
		}
		return nil
	})
	if err != nil {
		return StoreOutput{}, ErrorOf(err)
	}
	if out.Outcome != StoreDuplicate {
		out.Memory = View(m)
	}
	return out, nil
}

// refuse says why text must not be stored: noise, or a secret (unless the
// operator allows secrets). The text itself is never in the error.
func (s *Service) refuse(text string) error {
	if reason := capture.StoreNoise(text); reason != "" {
		return &Error{Code: CodeInvalid, Err: memory.ErrInvalid, Message: "refused (noise): " + reason, Hint: "store one self-contained statement worth keeping across sessions"}
	}
	if s.opts.AllowSecrets {
		return nil
	}
	if f := redact.Find(text); len(f) > 0 {
		return &Error{Code: CodeInvalid, Err: memory.ErrInvalid, Message: "refused (secret: " + f[0].Kind + "): the text looks like a credential, and secrets are never stored", Hint: "store where the secret lives (a vault, an env var name), not the secret"}
	}
	return nil
}

// stampFact gives a preference or entity its fact key (the one its
// metadata names, else memory-lancedb-pro's from its text), and a
// time-bound statement ("tomorrow", "next week") its temporal type
// dynamic and its expiry, unless the metadata already says. It returns
// the fact key ("" for other categories).
func (s *Service) stampFact(m *memory.Memory, now time.Time) string {
	md := memory.CloneMetadata(m.Metadata)
	if md == nil {
		md = map[string]any{}
	}
	var key string
	if m.Category == memory.CategoryPreference || m.Category == memory.CategoryEntity {
		key = strings.ToLower(strings.TrimSpace(memory.MetaString(md, memory.KeyFactKey)))
		if key == "" {
			key = extract.FactKey(memory.SmartCategoryFor(memory.FormatLegacy, m.Category, m.Text, "", ""), m.Text)
		}
		if key != "" {
			md[memory.KeyFactKey] = key
		}
	}
	if _, ok := md[memory.KeyTemporalType]; !ok {
		// Only a time-bound statement is marked: static is the default.
		if typ, until := extract.Temporal(m.Text, now); typ == memory.TemporalDynamic {
			md[memory.KeyTemporalType] = typ
			if _, set := md[memory.KeyValidUntil]; !set && until > 0 {
				md[memory.KeyValidUntil] = float64(until)
			}
		}
	}
	m.Metadata = md
	return key
}

// duplicateOf returns an active memory of m's scope that says what m
// says (the same normalised text, or near-identical wording close in
// vector space), or nil.
func (s *Service) duplicateOf(ctx context.Context, acc memory.Access, m memory.Memory) (*memory.Memory, error) {
	near, err := s.near(ctx, acc, []memory.Scope{m.Scope}, m.Text, m.Vector, 5)
	if err != nil {
		return nil, err
	}
	for _, n := range near {
		if n.Memory.Scope == m.Scope && capture.IsDuplicate(m.Text, n.Memory.Text, n.Similarity, n.Known) {
			d := n.Memory
			return &d, nil
		}
	}
	return nil, nil
}

// invalidate marks r replaced by the memory by at unix-ms now.
func invalidate(tx store.Tx, r memory.Memory, by string, now int64) error {
	r.Metadata = memory.CloneMetadata(r.Metadata)
	if r.Metadata == nil {
		r.Metadata = map[string]any{}
	}
	r.Metadata[memory.KeyInvalidatedAt] = float64(now)
	r.Metadata[memory.KeySupersededBy] = by
	r.Vector = nil // keep the stored vector
	return tx.Update(&r)
}

// Get reads one memory by id or unique prefix.
func (s *Service) Get(ctx context.Context, c Caller, id string) (Memory, error) {
	m, err := s.get(ctx, c, id)
	if err != nil {
		return Memory{}, err
	}
	return View(m), nil
}

// GetWithVector is Get with the memory's stored vector.
func (s *Service) GetWithVector(ctx context.Context, c Caller, id string) (MemoryWithVector, error) {
	m, err := s.get(ctx, c, id)
	if err != nil {
		return MemoryWithVector{}, err
	}
	return MemoryWithVector{Memory: View(m), Vector: m.Vector}, nil
}

func (s *Service) get(ctx context.Context, c Caller, id string) (memory.Memory, error) {
	acc, err := s.access(c)
	if err != nil {
		return memory.Memory{}, err
	}
	full, err := s.resolve(ctx, acc, id)
	if err != nil {
		return memory.Memory{}, err
	}
	m, err := s.opts.Store.Get(ctx, acc, full)
	if err != nil {
		return memory.Memory{}, ErrorOf(err)
	}
	return m, nil
}

// UpdateInput changes the given fields of one memory.
type UpdateInput struct {
	ID string `json:"id" jsonschema:"the memory's id, or a unique prefix of at least 8 characters"`
	UpdateFields
}

// UpdateFields are the changeable fields; nil means unchanged.
type UpdateFields struct {
	Text       *string        `json:"text,omitempty" jsonschema:"new text (re-embedded)"`
	Category   *string        `json:"category,omitempty" jsonschema:"new category: preference, fact, decision, entity, reflection or other"`
	Scope      *string        `json:"scope,omitempty" jsonschema:"move the memory to this scope (one you can write)"`
	Importance *float64       `json:"importance,omitempty" jsonschema:"new importance, 0 to 1"`
	Metadata   map[string]any `json:"metadata,omitempty" jsonschema:"merged into the metadata; a key set to null is removed"`
	// ExpectedRevision, when set, refuses the update if the memory moved on.
	ExpectedRevision int64 `json:"expected_revision,omitempty" jsonschema:"the revision you read; the update fails with conflict if the memory changed since"`
}

// Update applies the given fields to the memory as it is when the write
// happens, so concurrent changes to other fields are kept. A new text is
// embedded before the write lock is taken.
func (s *Service) Update(ctx context.Context, c Caller, in UpdateInput) (Memory, error) {
	acc, err := s.access(c)
	if err != nil {
		return Memory{}, err
	}
	f := in.UpdateFields
	if f.Text == nil && f.Category == nil && f.Scope == nil && f.Importance == nil && f.Metadata == nil {
		return Memory{}, Invalid("nothing to update: give text, category, scope, importance or metadata")
	}
	if f.ExpectedRevision < 0 {
		return Memory{}, Invalid("expected_revision %d is negative: give the revision you read", f.ExpectedRevision)
	}
	var want memory.Memory // validated new values
	if f.Text != nil {
		if err := memory.ValidateText(*f.Text); err != nil {
			return Memory{}, Invalid("text: %s", err.Error())
		}
	}
	if f.Category != nil {
		if want.Category, err = memory.ParseCategory(*f.Category); err != nil {
			return Memory{}, Invalid("category: %s", err.Error())
		}
	}
	if f.Scope != nil {
		if *f.Scope == "" {
			return Memory{}, Invalid("scope is empty: give the scope to move the memory to, or leave scope out")
		}
		if want.Scope, err = s.writeScope(c, acc, *f.Scope); err != nil {
			return Memory{}, err
		}
	}
	if f.Importance != nil {
		if err := memory.ValidateImportance(*f.Importance); err != nil {
			return Memory{}, Invalid("importance: %s", err.Error())
		}
	}
	id, err := s.resolve(ctx, acc, in.ID)
	if err != nil {
		return Memory{}, err
	}
	var vec []float32
	if f.Text != nil {
		vs, err := s.embed(ctx, []string{*f.Text})
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
		if f.ExpectedRevision != 0 && m.Revision != f.ExpectedRevision {
			return &memory.ConflictError{ID: id, Expected: f.ExpectedRevision, Actual: m.Revision}
		}
		// A new value of a preference or an entity is a new fact: the
		// row keeps the old value as history, marked replaced, and a new
		// row carries the new one, in this one transaction.
		var prev *memory.Memory
		if f.Text != nil && supersedes(m, *f.Text, s.opts.Clock().UnixMilli()) {
			old := m
			prev = &old
			m.ID, m.Revision, m.CreatedAt, m.UpdatedAt = uuid.NewString(), 0, 0, 0
			m.Metadata = memory.CloneMetadata(m.Metadata)
			m.Metadata[memory.KeySupersedes] = old.ID
			m.Metadata[memory.KeyValidFrom] = float64(s.opts.Clock().UnixMilli())
			delete(m.Metadata, memory.KeyAccessCount)
			delete(m.Metadata, memory.KeyLastAccessedAt)
		}
		if f.Text != nil {
			memory.ChangeText(&m, *f.Text, vec)
		}
		if f.Category != nil {
			m.Category = want.Category
		}
		if f.Scope != nil {
			m.Scope = want.Scope
		}
		if f.Importance != nil {
			m.Importance = *f.Importance
		}
		if f.Metadata != nil {
			m.Metadata = MergeMetadata(m.Metadata, f.Metadata)
		}
		if prev != nil {
			if err := tx.Insert(&m); err != nil {
				return err
			}
			if err := invalidate(tx, *prev, m.ID, s.opts.Clock().UnixMilli()); err != nil {
				return err
			}
			out = m
			return nil
		}
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

// supersedes reports whether giving m the text makes a new value of its
// fact: m is an active preference or entity (its memory_category, or its
// storage category) and the text says something else.
func supersedes(m memory.Memory, text string, now int64) bool {
	switch memory.SmartCategoryOf(m) {
	case memory.SmartPreferences, memory.SmartEntities:
	default:
		return false
	}
	return memory.ActiveAt(m, now) && capture.Normalize(text) != capture.Normalize(m.Text)
}

// MergeMetadata applies a JSON merge patch (RFC 7386) to dst: keys set to
// null are removed, objects merge recursively, anything else replaces.
func MergeMetadata(dst, patch map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			sub, _ := dst[k].(map[string]any)
			dst[k] = MergeMetadata(sub, pv)
		default:
			dst[k] = v
		}
	}
	return dst
}

// ForgetInput names a memory to delete.
type ForgetInput struct {
	ID               string `json:"id" jsonschema:"the memory's id, or a unique prefix of at least 8 characters"`
	ExpectedRevision int64  `json:"expected_revision,omitempty" jsonschema:"the revision you read; the delete fails with conflict if the memory changed since"`
	// Purge erases the memory for good instead (the owner only; CLI
	// --purge, REST ?purge=true): row, history, tombstone, index entries
	// and vectors, in one transaction, recorded without content in the
	// store's erasure log. Not offered to agents over MCP.
	Purge bool `json:"-"`
}

// ForgetOutput reports a deletion.
type ForgetOutput struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
	// Purged: erased for good with Versions kept versions (ForgetInput.Purge).
	Purged bool `json:"purged,omitempty"`
	// Messages is how many buffered messages of the conversation a purged
	// memory was captured from were erased with it.
	Messages int `json:"buffer_messages,omitempty"`
	Versions int `json:"versions,omitempty"`
}

// Forget deletes one memory.
func (s *Service) Forget(ctx context.Context, c Caller, in ForgetInput) (ForgetOutput, error) {
	acc, err := s.access(c)
	if err != nil {
		return ForgetOutput{}, err
	}
	if in.ExpectedRevision < 0 {
		return ForgetOutput{}, Invalid("expected_revision %d is negative: give the revision you read", in.ExpectedRevision)
	}
	if in.Purge {
		return s.purge(ctx, c, acc, in)
	}
	id, err := s.resolve(ctx, acc, in.ID)
	if err != nil {
		return ForgetOutput{}, err
	}
	if err := store.WriteAgain(ctx, s.opts.Store, acc, func(tx store.Tx) error { return tx.Delete(id, in.ExpectedRevision) }); err != nil {
		return ForgetOutput{}, ErrorOf(err)
	}
	return ForgetOutput{ID: id, Deleted: true}, nil
}

// ListInput pages memories newest first.
type ListInput struct {
	Scopes []string
	// Categories are storage categories (preference, fact, ...);
	// MemoryCategories six-category memory_categories (profile,
	// preferences, ...; aliases as memory.NormalizeSmartCategory).
	Categories       []string
	MemoryCategories []string
	Limit            int
	Cursor           string
	// Offset skips this many rows first (after the cursor's position when
	// one is given), for callers that page by offset, as memory-lancedb-pro's
	// memory_list does. The rows are read and dropped: use cursors to page
	// far.
	Offset int
	Validity
}

// ListOutput is one page.
type ListOutput struct {
	Memories      []Memory       `json:"memories"`
	NextCursor    string         `json:"next_cursor,omitempty" jsonschema:"pass as cursor to get the next page; absent on the last page"`
	IgnoredScopes []memory.Scope `json:"ignored_scopes,omitempty" jsonschema:"requested scopes you may not read"`
	// AccessibleScopes (when a scope was ignored) are the scopes the
	// caller may read, to say where it looked instead.
	AccessibleScopes []memory.Scope `json:"accessible_scopes,omitempty" jsonschema:"when a requested scope was ignored: the scopes you may read"`
	Warnings         []string       `json:"warnings,omitempty"`
}

// List returns one page of memories the caller may read.
func (s *Service) List(ctx context.Context, c Caller, in ListInput) (ListOutput, error) {
	acc, err := s.access(c)
	if err != nil {
		return ListOutput{}, err
	}
	n, err := limit("limit", in.Limit, DefaultListLimit, MaxListLimit)
	if err != nil {
		return ListOutput{}, err
	}
	if in.Offset < 0 || in.Offset > MaxListOffset {
		return ListOutput{}, Invalid("offset %d is out of range: use 0 to %d, or page with next_cursor", in.Offset, MaxListOffset)
	}
	req, err := parseScopes(in.Scopes)
	if err != nil {
		return ListOutput{}, err
	}
	cats, err := parseCategories(in.Categories)
	if err != nil {
		return ListOutput{}, err
	}
	smart, err := parseMemoryCategories(in.MemoryCategories)
	if err != nil {
		return ListOutput{}, err
	}
	at, err := s.at(in.Validity)
	if err != nil {
		return ListOutput{}, err
	}
	given := in.Validity != (Validity{})
	var after string
	if c := strings.TrimSpace(in.Cursor); c != "" {
		cur, err := decodeListCursor(c)
		if err != nil {
			return ListOutput{}, err
		}
		// A cursor carries the filters of the listing it continues: given
		// alone it continues that listing; given with other filters it
		// would page through rows the first page never saw.
		if len(in.Scopes) == 0 && len(in.Categories) == 0 && len(in.MemoryCategories) == 0 {
			req, cats, smart = cur.Scopes, cur.Categories, cur.MemoryCategories
		} else if !slices.Equal(req, cur.Scopes) || !slices.Equal(cats, cur.Categories) || !slices.Equal(smart, cur.MemoryCategories) {
			return ListOutput{}, Invalid("the cursor continues a listing with other filters (%s): repeat that listing's scope, category and memory_category filters, or give only the cursor", cur.describe())
		}
		after = cur.After
		if !given {
			at = cur.At
		}
	}
	scopes, ignored := readScopes(acc, req)
	filter := store.Filter{Scopes: scopes, Categories: cats, MemoryCategories: smart, ActiveAt: at}
	out := ListOutput{Memories: []Memory{}, IgnoredScopes: ignored, AccessibleScopes: accessible(acc, ignored), Warnings: ignoredWarning(acc, ignored, len(scopes) > 0)}
	// The store pages by position only: an offset is pages read and dropped.
	for skip := in.Offset; skip > 0; {
		page, err := s.opts.Store.List(ctx, acc, store.ListOptions{Filter: filter, Limit: min(skip, MaxListLimit), Cursor: after})
		if err != nil {
			return ListOutput{}, ErrorOf(err)
		}
		skip -= len(page.Memories)
		if after = page.NextCursor; after == "" || len(page.Memories) == 0 {
			return out, nil
		}
	}
	page, err := s.opts.Store.List(ctx, acc, store.ListOptions{Filter: filter, Limit: n, Cursor: after})
	if err != nil {
		return ListOutput{}, ErrorOf(err)
	}
	out.Memories = views(page.Memories)
	if page.NextCursor != "" {
		out.NextCursor = listCursor{After: page.NextCursor, Scopes: req, Categories: cats, MemoryCategories: smart, At: at}.encode()
	}
	return out, nil
}

// listCursor is the opaque next-page token of List: the store's position
// and the filters the listing was made with.
type listCursor struct {
	After      string            `json:"a"`
	Scopes     []memory.Scope    `json:"s,omitempty"`
	Categories []memory.Category `json:"c,omitempty"`
	// MemoryCategories are the listing's memory_category filter.
	MemoryCategories []memory.SmartCategory `json:"m,omitempty"`
	// At is the validity time of the first page (0: every version), so
	// the pages of one listing judge "active" alike.
	At int64 `json:"t,omitempty"`
}

func (c listCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (c listCursor) describe() string {
	var parts []string
	for _, s := range c.Scopes {
		parts = append(parts, "scope "+string(s))
	}
	for _, k := range c.Categories {
		parts = append(parts, "category "+string(k))
	}
	for _, k := range c.MemoryCategories {
		parts = append(parts, "memory_category "+string(k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func decodeListCursor(s string) (listCursor, error) {
	bad := Invalid("cursor %q is not one this server gave out: pass next_cursor from the previous page unchanged, or start without a cursor", s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return listCursor{}, bad
	}
	var c listCursor
	if err := json.Unmarshal(b, &c); err != nil || c.After == "" {
		return listCursor{}, bad
	}
	if _, err := parseScopes(scopeStrings(c.Scopes)); err != nil {
		return listCursor{}, bad
	}
	if _, err := parseCategories(categoryStrings(c.Categories)); err != nil {
		return listCursor{}, bad
	}
	if got, err := parseMemoryCategories(categoryStrings(c.MemoryCategories)); err != nil || len(got) != len(c.MemoryCategories) {
		return listCursor{}, bad
	}
	return c, nil
}

func scopeStrings(ss []memory.Scope) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

func categoryStrings[C ~string](cs []C) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

// StatsOutput counts the memories the caller may read.
type StatsOutput struct {
	Total      int            `json:"total"`
	Inactive   int            `json:"inactive" jsonschema:"rows no longer true now (superseded, invalidated or expired), kept as history"`
	Legacy     int            `json:"legacy" jsonschema:"rows not yet enriched (format 0)"`
	Smart      int            `json:"smart" jsonschema:"enriched rows (format 1)"`
	ByScope    map[string]int `json:"by_scope"`
	ByCategory map[string]int `json:"by_category"`
	ByTier     map[string]int `json:"by_tier" jsonschema:"rows by lifecycle tier (core, working, peripheral)"`
	ByState    map[string]int `json:"by_state" jsonschema:"rows by governance state (pending, confirmed, archived)"`
	ByLayer    map[string]int `json:"by_layer" jsonschema:"rows by layer (durable, working, reflection, archive)"`
	// LastMaintain is the last maintenance pass (the owner's view only).
	LastMaintain *store.MaintainRun `json:"last_maintain,omitempty"`
	Oldest       int64              `json:"oldest_created_at,omitempty"`
	Newest       int64              `json:"newest_created_at,omitempty"`
	// Retrieval says how this server recalls.
	Retrieval        RetrievalInfo  `json:"retrieval"`
	IgnoredScopes    []memory.Scope `json:"ignored_scopes,omitempty"`
	AccessibleScopes []memory.Scope `json:"accessible_scopes,omitempty" jsonschema:"when a requested scope was ignored: the scopes you may read"`
	Warnings         []string       `json:"warnings,omitempty"`
}

// RetrievalInfo is what memory-lancedb-pro's memory_stats says of its
// retrieval (mode, FTS support), as far as this server can state it.
type RetrievalInfo struct {
	Mode string `json:"mode" jsonschema:"hybrid (vector + BM25, fused), or unavailable when this server has no search pipeline"`
	FTS  bool   `json:"fts" jsonschema:"the store has a full-text (BM25) index"`
	// Embedding is the model the store's vectors are in (provider:model
	// or the model's name), when recorded.
	Embedding  string `json:"embedding_model,omitempty" jsonschema:"the embedding model the store's vectors are in"`
	Dimensions int    `json:"dimensions,omitempty"`
}

// Stats counts memories by scope, category, tier and format; the owner
// also sees the last maintenance pass.
func (s *Service) Stats(ctx context.Context, c Caller, scopeNames []string) (StatsOutput, error) {
	acc, err := s.access(c)
	if err != nil {
		return StatsOutput{}, err
	}
	req, err := parseScopes(scopeNames)
	if err != nil {
		return StatsOutput{}, err
	}
	scopes, ignored := readScopes(acc, req)
	st, err := s.opts.Store.Stats(ctx, acc, store.Filter{Scopes: scopes})
	if err != nil {
		return StatsOutput{}, ErrorOf(err)
	}
	if st.ByScope == nil {
		st.ByScope = map[string]int{}
	}
	if st.ByCategory == nil {
		st.ByCategory = map[string]int{}
	}
	if st.ByTier == nil {
		st.ByTier = map[string]int{}
	}
	if st.ByState == nil {
		st.ByState = map[string]int{}
	}
	if st.ByLayer == nil {
		st.ByLayer = map[string]int{}
	}
	out := StatsOutput{Total: st.Total, Inactive: st.Inactive, Legacy: st.Legacy, Smart: st.Smart, ByScope: st.ByScope, ByCategory: st.ByCategory, ByTier: st.ByTier, ByState: st.ByState, ByLayer: st.ByLayer,
		Oldest: st.Oldest, Newest: st.Newest, IgnoredScopes: ignored, AccessibleScopes: accessible(acc, ignored), Warnings: ignoredWarning(acc, ignored, len(scopes) > 0)}
	if out.Retrieval, err = s.retrievalInfo(ctx); err != nil {
		return StatsOutput{}, err
	}
	if acc.All() {
		run, ok, err := s.LastMaintain(ctx)
		if err != nil {
			return StatsOutput{}, ErrorOf(err)
		}
		if ok {
			out.LastMaintain = &run
		}
	}
	return out, nil
}

// RecallInput is a recall query.
type RecallInput struct {
	Query  string
	Scopes []string
	// Categories are storage categories; MemoryCategories six-category
	// memory_categories (see ListInput).
	Categories       []string
	MemoryCategories []string
	Limit            int
	// Debug keeps every candidate's per-stage scores and the candidates
	// that were dropped, with the reason.
	Debug bool
	// MinScore, when set, replaces retrieval.minScore for this recall: a
	// score in [0, 1] (MinScoreHelp says what values mean).
	MinScore *float64
	// Validity: what was true then, or every version (default: now).
	Validity
}

// RecallOutput is the ranked answer to a recall.
type RecallOutput struct {
	Results       []RecallResult `json:"results"`
	Warnings      []string       `json:"warnings,omitempty" jsonschema:"degraded paths and ignored scopes"`
	IgnoredScopes []memory.Scope `json:"ignored_scopes,omitempty" jsonschema:"requested scopes you may not read"`
	// AccessibleScopes (when a scope was ignored) are the scopes the
	// caller may read: where the recall looked instead.
	AccessibleScopes []memory.Scope `json:"accessible_scopes,omitempty" jsonschema:"when a requested scope was ignored: every scope you may read (not necessarily what was searched)"`
	// Dropped (with Debug) are candidates that did not make it, and why.
	Dropped []RecallResult `json:"dropped,omitempty"`
	// Explain (with Debug) is each stage's count in and out, time and
	// score range, the fusion and the expansion terms.
	Explain *Explain `json:"explain,omitempty" jsonschema:"with debug: each stage's candidates in and out, time and score range"`
}

// Explain is a ranking's account (with Debug).
type Explain = retrieve.Explain

// Sources says which signals found a memory and with what raw score.
type Sources = retrieve.Sources

// Trace is a candidate's score after each stage (with Debug).
type Trace = retrieve.Trace

// RecallResult is one recalled memory.
type RecallResult struct {
	Memory  Memory  `json:"memory"`
	Score   float64 `json:"score" jsonschema:"relevance, higher is better"`
	Sources Sources `json:"sources" jsonschema:"which signals found it and their raw scores"`
	Trace   *Trace  `json:"trace,omitempty"`
}

// Recall finds the memories most relevant to a query, best first.
func (s *Service) Recall(ctx context.Context, c Caller, in RecallInput) (RecallOutput, error) {
	acc, err := s.access(c)
	if err != nil {
		return RecallOutput{}, err
	}
	q := strings.TrimSpace(in.Query)
	switch {
	case q == "":
		return RecallOutput{}, Invalid("query is empty: say what to recall, e.g. \"which editor does the user prefer\"")
	case len(q) > MaxQueryBytes:
		return RecallOutput{}, Invalid("query is %d bytes, over the %d-byte limit: shorten it to the question itself", len(q), MaxQueryBytes)
	}
	n, err := limit("limit", in.Limit, DefaultRecall, MaxRecall)
	if err != nil {
		return RecallOutput{}, err
	}
	req, err := parseScopes(in.Scopes)
	if err != nil {
		return RecallOutput{}, err
	}
	cats, err := parseCategories(in.Categories)
	if err != nil {
		return RecallOutput{}, err
	}
	smart, err := parseMemoryCategories(in.MemoryCategories)
	if err != nil {
		return RecallOutput{}, err
	}
	if err := checkMinScore(in.MinScore); err != nil {
		return RecallOutput{}, err
	}
	at, err := s.at(in.Validity)
	if err != nil {
		return RecallOutput{}, err
	}
	scopes, ignored := readScopes(acc, req)
	resp, err := s.search(ctx, acc, retrieve.Request{Query: q, Scopes: scopes, Categories: cats, MemoryCategories: smart, Limit: n, Debug: in.Debug, MinScore: in.MinScore,
		AsOf: at, IncludeHistory: in.IncludeHistory})
	if err != nil {
		return RecallOutput{}, err
	}
	out := RecallOutput{Results: make([]RecallResult, 0, len(resp.Results)), Warnings: resp.Warnings,
		IgnoredScopes: dedupeScopes(ignored, resp.IgnoredScopes), Explain: resp.Explain}
	out.AccessibleScopes = accessible(acc, out.IgnoredScopes)
	out.Warnings = append(out.Warnings, ignoredWarning(acc, ignored, len(scopes) > 0)...)
	ids := make([]string, 0, len(resp.Results))
	for _, r := range resp.Results {
		out.Results = append(out.Results, RecallResult{Memory: View(r.Memory), Score: r.Score, Sources: r.Sources, Trace: r.Trace})
		ids = append(ids, r.Memory.ID)
	}
	for _, r := range resp.Dropped {
		out.Dropped = append(out.Dropped, RecallResult{Memory: View(r.Memory), Score: r.Score, Sources: r.Sources, Trace: r.Trace})
	}
	s.recordAccess(ids)
	return out, nil
}

// recordAccess notes that recall returned ids, when a tracker is set.
func (s *Service) recordAccess(ids []string) {
	if s.opts.Tracker != nil {
		s.opts.Tracker.Record(ids)
	}
}

// search calls the Searcher, or says recall is unavailable.
func (s *Service) search(ctx context.Context, acc memory.Access, req retrieve.Request) (retrieve.Response, error) {
	if s.opts.Searcher == nil {
		return retrieve.Response{}, Unavailable("recall is unavailable on this server (no search pipeline is configured): use memory_list or GET /v1/memories meanwhile, and tell the store's owner")
	}
	resp, err := s.opts.Searcher.Search(ctx, acc, req)
	if err != nil {
		return retrieve.Response{}, ErrorOf(err)
	}
	return resp, nil
}

// HasSearcher reports whether recall can be served.
func (s *Service) HasSearcher() bool { return s.opts.Searcher != nil }

// retrievalInfo says how this server recalls: hybrid when it has a search
// pipeline over a store with a full-text index, and in which embedding
// space the store's vectors are.
func (s *Service) retrievalInfo(ctx context.Context) (RetrievalInfo, error) {
	_, fts := s.opts.Store.(store.Searcher)
	info := RetrievalInfo{Mode: "unavailable", FTS: fts}
	if s.opts.Searcher != nil {
		info.Mode = "hybrid"
	}
	sp, err := s.opts.Store.Space(ctx)
	if err != nil {
		return RetrievalInfo{}, ErrorOf(err)
	}
	info.Embedding, info.Dimensions = sp.Model, sp.Dimensions
	return info, nil
}
