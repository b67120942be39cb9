// Package service holds every operation trove offers, and is the one path
// to them: the CLI, the MCP server, the REST API (and through it the
// OpenClaw plugin) are thin front ends that parse their input, call the
// service and print its answer. Agents' operations (store, get, update,
// forget, list, stats, recall, recall-context, capture) and the owner's
// (import, export, delete-bulk, upgrade, doctor, maintain) live here. It
// validates input, applies the caller's scope access, resolves id
// prefixes, embeds before any write lock is taken, and turns every failure
// into an *Error with a code and a message that says what to do.
//
// Access is enforced by handing the caller's memory.Access to the store,
// which applies it in its queries: no operation reads or writes a row
// outside the caller's scopes by any path. A read that names a scope the
// caller may not read does not fail: it searches the caller's accessible
// scopes and reports the ignored scope. A write to such a scope fails with
// scope_access_denied.
//
//	svc := service.New(service.Options{Store: st, Embedder: emb, Searcher: r, Access: cfg.Access})
//	m, err := svc.Store(ctx, service.Caller{Agent: "bot"}, service.StoreInput{Text: "prefers dark mode"})
//	if err != nil { e := service.ErrorOf(err); ... e.Code, e.Message }
package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/doctor"
	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/lifecycle"
	"github.com/trove-memory/trove/internal/llm"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/retrieve"
	"github.com/trove-memory/trove/internal/store"
)

// Searcher is the recall pipeline (retrieve.Retriever).
type Searcher interface {
	Search(ctx context.Context, acc memory.Access, req retrieve.Request) (retrieve.Response, error)
}

// Options configure a Service.
type Options struct {
	Store    store.Store
	Embedder embedding.Embedder
	// Searcher answers recall; nil makes recall answer unavailable.
	Searcher Searcher
	// LLM returns the chat model upgrade uses; nil when none is configured.
	LLM func() (llm.Client, error)
	// NewEmbedder builds the embedder a reembed moves to, and the space
	// it writes; nil when this trove cannot build one.
	NewEmbedder func(EmbedderSpec) (embedding.Embedder, store.Space, error)
	// Warn hears what the caller should know but that fails nothing (this
	// process's model is no longer the store's); nil drops it.
	Warn func(string)
	// Maintenance are the tasks a long-lived server runs every
	// MaintainEvery (default hourly); OnMaintainError hears of failures.
	Maintenance     []Task
	MaintainEvery   time.Duration
	OnMaintainError func(task string, err error)
	// Doctor is the template of the checks Doctor runs (agent access,
	// lock timeout, this binary's version); Repair is set per call.
	Doctor doctor.Options
	// Access maps an agent id to its scopes ("" is the owner: every scope).
	// Default: global, agent:<id> and reflection:agent:<id>.
	Access func(agent string) memory.Access
	// Declared reports whether a scope that is not built in is declared
	// (the config's scopes.definitions): only built-in and declared scopes
	// can be written. Default: none is declared.
	Declared func(memory.Scope) bool
	// DefaultScope is where the owner writes when no scope is given, and
	// an agent that may not write its own agent:<id> (default global).
	DefaultScope memory.Scope
	// Extractor finds memories in a conversation turn for Capture
	// (default capture.Explicit).
	Extractor capture.Extractor
	// Capture holds capture's settings; CaptureWorker makes this service
	// run asynchronous captures and idle sessions (a server).
	Capture       CaptureOptions
	CaptureWorker bool
	// Clock gives the time recorded in captured memories' metadata.
	Clock func() time.Time
	// Lifecycle holds the tier thresholds Maintain applies (nil:
	// lifecycle.Defaults).
	Lifecycle *lifecycle.Config
	// Tracker records what recall returns (access_count and
	// last_accessed_at, which slow decay); nil records nothing.
	Tracker *AccessTracker
	// Recall-context defaults: items, characters of memory text in all
	// and per item, what an item shows, and the time budget (the
	// cross-encoder gets at most half of it).
	ContextItems     int           // default 3
	ContextChars     int           // default 600
	ContextItemChars int           // default 180; in full mode 3 times that, at most 1000
	ContextMode      string        // ContextSummary (default) or ContextFull
	ContextBudget    time.Duration // default 5 s
	// SuppressTurns: recall-context with a session does not inject a
	// memory injected in that session within this many turns (default
	// DefaultSuppressTurns; negative: no such limit).
	SuppressTurns int
	// AllowSecrets lets memory_store keep text that looks like a secret
	// (an operator's choice; an agent cannot make it).
	AllowSecrets bool
}

// Service runs the operations. It is safe for concurrent use.
type Service struct {
	opts   Options
	maint  *maintainer    // nil unless Options.Maintenance has tasks
	worker *captureWorker // nil unless Options.CaptureWorker
	moved  movedNotice
}

// New returns a Service.
func New(opts Options) *Service {
	if opts.Access == nil {
		opts.Access = func(agent string) memory.Access {
			if agent == "" {
				return memory.Owner()
			}
			return memory.AgentAccess(agent)
		}
	}
	if opts.Declared == nil {
		opts.Declared = func(memory.Scope) bool { return false }
	}
	if opts.DefaultScope == "" {
		opts.DefaultScope = memory.GlobalScope
	}
	if opts.Extractor == nil {
		opts.Extractor = capture.Explicit{}
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.ContextItems <= 0 {
		opts.ContextItems = DefaultContextItems
	}
	if opts.ContextChars <= 0 {
		opts.ContextChars = DefaultContextChars
	}
	if opts.ContextItemChars <= 0 {
		opts.ContextItemChars = DefaultContextItemChars
	}
	if opts.ContextMode == "" {
		opts.ContextMode = ContextSummary
	}
	switch {
	case opts.SuppressTurns == 0:
		opts.SuppressTurns = DefaultSuppressTurns
	case opts.SuppressTurns < 0:
		opts.SuppressTurns = 0
	}
	if opts.ContextBudget <= 0 {
		opts.ContextBudget = 5 * time.Second
	}
	s := &Service{opts: opts}
	if len(opts.Maintenance) > 0 {
		s.maint = startMaintainer(opts.Maintenance, opts.MaintainEvery, opts.OnMaintainError)
	}
	if opts.CaptureWorker {
		s.startCaptureWorker()
	}
	return s
}

// AgentHeader is the HTTP header that names the calling agent (REST and
// MCP over HTTP).
const AgentHeader = "X-Trove-Agent"

// Caller is who is asking. An empty Agent is the store's owner.
type Caller struct {
	Agent string
}

// CheckAgent validates an agent id: it must make a valid agent:<id> scope.
func CheckAgent(id string) error {
	if id == "" {
		return nil
	}
	if _, err := memory.ParseScope(string(memory.AgentScope(id))); err != nil {
		return Invalid("agent id %q is not valid: %s", id, err.Error())
	}
	return nil
}

// access is what c may reach.
func (s *Service) access(c Caller) (memory.Access, error) {
	if err := CheckAgent(c.Agent); err != nil {
		return memory.Access{}, err
	}
	return s.opts.Access(c.Agent).By(c.Agent), nil
}

// writeScope is the scope a write goes to: the one given (which must be
// well formed, built in or declared, and writable by the caller), else the
// caller's default: agent:<id> when the agent may write there, else the
// configured default (memory-lancedb-pro's getDefaultScope). Writes fail
// closed: a scope the caller may not write is scope_access_denied.
func (s *Service) writeScope(c Caller, acc memory.Access, given string) (memory.Scope, error) {
	if given == "" {
		sc := s.opts.DefaultScope
		if c.Agent != "" && acc.Allows(memory.AgentScope(c.Agent)) {
			sc = memory.AgentScope(c.Agent)
		}
		if !acc.Allows(sc) {
			return "", ErrorOf(&memory.ScopeDeniedError{Scope: sc})
		}
		return sc, nil
	}
	sc, err := memory.ParseScope(given)
	if err != nil {
		return "", Invalid("scope: %s", err.Error())
	}
	if err := s.checkDeclared(sc); err != nil {
		return "", err
	}
	if !acc.Allows(sc) {
		return "", ErrorOf(&memory.ScopeDeniedError{Scope: sc})
	}
	return sc, nil
}

// checkDeclared refuses a write to a scope that is neither built in nor
// declared in the config.
func (s *Service) checkDeclared(sc memory.Scope) error {
	if sc.BuiltIn() || s.opts.Declared(sc) {
		return nil
	}
	return Invalid("scope %q is not declared: declare it in the config's scopes.definitions, or use a built-in scope (global, agent:<id>, user:<id>, project:<id>, custom:<name>)", sc)
}

// Memory is a memory as callers see it: every field but the vector.
type Memory struct {
	ID         string          `json:"id"`
	Text       string          `json:"text"`
	Category   memory.Category `json:"category" jsonschema:"preference, fact, decision, entity, reflection or other"`
	Scope      memory.Scope    `json:"scope" jsonschema:"global, agent:<id>, user:<id>, project:<id>, custom:<name>, reflection:agent:<id>, or a declared name"`
	Importance float64         `json:"importance" jsonschema:"0 to 1"`
	CreatedAt  int64           `json:"created_at" jsonschema:"unix milliseconds"`
	UpdatedAt  int64           `json:"updated_at" jsonschema:"unix milliseconds"`
	Revision   int64           `json:"revision" jsonschema:"bumped by every change; pass it as expected_revision to update only what you read"`
	Format     memory.Format   `json:"format" jsonschema:"0 legacy, 1 smart (enriched)"`
	Metadata   map[string]any  `json:"metadata"`
	// Inactive says why the memory is no longer true now: superseded,
	// invalidated, expired, archived or not yet valid. Absent when it is
	// active.
	Inactive string `json:"inactive,omitempty" jsonschema:"present when the memory is no longer true: superseded, invalidated, expired, archived or not yet valid"`
}

// MemoryWithVector is a memory with its stored embedding.
type MemoryWithVector struct {
	Memory
	Vector []float32 `json:"vector,omitempty"`
}

// View returns m as callers see it.
func View(m memory.Memory) Memory {
	md := m.Metadata
	if md == nil {
		md = map[string]any{}
	}
	return Memory{ID: m.ID, Text: m.Text, Category: m.Category, Scope: m.Scope, Importance: m.Importance,
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, Revision: m.Revision, Format: m.Format, Metadata: md,
		Inactive: inactiveReason(m, time.Now().UnixMilli())}
}

func views(ms []memory.Memory) []Memory {
	out := make([]Memory, len(ms))
	for i, m := range ms {
		out[i] = View(m)
	}
	return out
}

// parseScopes validates requested scope names.
func parseScopes(ss []string) ([]memory.Scope, error) {
	if len(ss) > MaxScopes {
		return nil, Invalid("%d scopes given, over the limit of %d: name fewer scopes, or none to cover every scope you can read", len(ss), MaxScopes)
	}
	var out []memory.Scope
	for _, s := range ss {
		if s == "" {
			continue
		}
		sc, err := memory.ParseScope(s)
		if err != nil {
			return nil, Invalid("scope: %s", err.Error())
		}
		out = append(out, sc)
	}
	return out, nil
}

// readScopes narrows a read to the requested scopes the caller may read.
// Requested scopes it may not read are ignored, and when none is left the
// read covers every scope the caller may read.
func readScopes(acc memory.Access, requested []memory.Scope) (scopes, ignored []memory.Scope) {
	if len(requested) == 0 {
		return nil, nil
	}
	allowed, ignored := acc.Narrow(requested)
	if len(ignored) == 0 {
		return requested, nil
	}
	return allowed.List(), ignored
}

// accessible is what a response names as the scopes the caller may read
// when it ignored some it asked for: the caller's scopes (nil otherwise,
// and for the owner, who reads every scope).
func accessible(acc memory.Access, ignored []memory.Scope) []memory.Scope {
	if len(ignored) == 0 || acc.All() {
		return nil
	}
	return slices.Clone(acc.List())
}

func ignoredWarning(acc memory.Access, ignored []memory.Scope, narrowed bool) []string {
	if len(ignored) == 0 {
		return nil
	}
	names := make([]string, len(ignored))
	for i, s := range ignored {
		names[i] = string(s)
	}
	where := "the other requested scopes"
	if !narrowed {
		where = "every scope you can read (" + scopeNames(acc) + ")"
	}
	return []string{fmt.Sprintf("ignored scope %s: not readable by this caller; searched %s instead", strings.Join(names, ", "), where)}
}

func scopeNames(acc memory.Access) string {
	if acc.All() {
		return "all"
	}
	names := make([]string, 0, len(acc.List()))
	for _, s := range acc.List() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

// parseMemoryCategories reads memory_category filter values: the
// six-category vocabulary (profile, preferences, entities, events, cases,
// patterns), with the singular aliases memory.NormalizeSmartCategory
// accepts. It is not the storage vocabulary parseCategories reads.
func parseMemoryCategories(ss []string) ([]memory.SmartCategory, error) {
	if len(ss) > MaxCategories {
		return nil, Invalid("%d memory categories given, over the limit of %d: name each memory_category once", len(ss), MaxCategories)
	}
	var out []memory.SmartCategory
	for _, s := range ss {
		if s == "" {
			continue
		}
		c, ok := memory.NormalizeSmartCategory(s)
		if !ok {
			return nil, Invalid("memory_category %q is unknown: use one of %s (category takes the storage categories preference, fact, decision, entity, reflection, other)", s, smartCategoryList())
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

func smartCategoryList() string {
	names := make([]string, len(memory.SmartCategories))
	for i, c := range memory.SmartCategories {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}

// parseCategories reads category filter values: the storage vocabulary
// (memory.ParseCategory), not the six-category memory_category.
func parseCategories(ss []string) ([]memory.Category, error) {
	if len(ss) > MaxCategories {
		return nil, Invalid("%d categories given, over the limit of %d: name each category once", len(ss), MaxCategories)
	}
	var out []memory.Category
	for _, s := range ss {
		if s == "" {
			continue
		}
		c, err := memory.ParseCategory(s)
		if err != nil {
			return nil, Invalid("category: %s", err.Error())
		}
		out = append(out, c)
	}
	return out, nil
}

// resolve turns an id or unique prefix into an id within acc.
func (s *Service) resolve(ctx context.Context, acc memory.Access, id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", Invalid("id is empty: give a memory id (or a unique prefix of at least %d characters)", store.MinPrefix)
	}
	if err := memory.ValidateID(id); err != nil {
		return "", Invalid("id: %s", err.Error())
	}
	full, err := s.opts.Store.Resolve(ctx, acc, id)
	if err != nil {
		return "", ErrorOf(err)
	}
	return full, nil
}

const embedHint = "check the embedding provider settings (TROVE_EMBED_*), or use TROVE_EMBED_PROVIDER=hash offline"

// embed embeds texts, before any write lock is taken.
func (s *Service) embed(ctx context.Context, texts []string) ([][]float32, error) {
	if s.opts.Embedder == nil {
		return nil, Unavailable("no embedding provider is configured: the server cannot store memories")
	}
	vs, err := s.opts.Embedder.Embed(ctx, texts)
	if s.degraded(err) {
		return noVectors(len(texts)), nil
	}
	if errors.Is(err, memory.ErrDimensions) {
		return nil, ErrorOf(err) // the store's vectors come from another model
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ErrorOf(ctx.Err())
		}
		return nil, &Error{Code: CodeUnavailable, Err: err, Message: "the embedding provider failed: " + err.Error() + ": retry later", Hint: embedHint}
	}
	if err := embedding.CheckVectors(vs, len(texts), 0); err != nil {
		return nil, &Error{Code: CodeUnavailable, Err: err, Message: "the embedding provider sent a bad reply: " + err.Error() + ": retry later", Hint: embedHint}
	}
	return vs, nil
}

// limit checks a caller's limit: 0 means def, negative or over max is an error.
func limit(name string, n, def, max int) (int, error) {
	switch {
	case n == 0:
		return def, nil
	case n < 0 || n > max:
		return 0, Invalid("%s %d is out of range: use 1 to %d", name, n, max)
	}
	return n, nil
}

// dedupeScopes keeps the first of each scope.
func dedupeScopes(a ...[]memory.Scope) []memory.Scope {
	var out []memory.Scope
	for _, xs := range a {
		for _, x := range xs {
			if !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
	}
	return out
}

// Close flushes what the access tracker holds, lets the searcher finish
// what it writes beside the store (retrieve: the vector index file, so
// that a one-shot command's full load is not lost) and closes the store.
// The Service must not be used afterwards.
func (s *Service) Close(ctx context.Context) error {
	var errs []error
	if s.maint != nil {
		s.maint.stop()
	}
	if s.worker != nil {
		s.worker.stop()
	}
	if c, ok := s.opts.Searcher.(interface{ Close(context.Context) error }); ok {
		if err := c.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.opts.Tracker != nil {
		if err := s.opts.Tracker.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("recalls since the last write were not recorded: %w", err))
		}
	}
	if err := s.opts.Store.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// NoStoreError is a command that reads a store at a path where there is
// none. Only commands that write create a store, so that a mistyped path
// is reported instead of answered from a new empty store.
type NoStoreError struct{ Path string }

func (e *NoStoreError) Error() string {
	return fmt.Sprintf("no store at %s: check --db or TROVE_DB; a store is created by the first trove store, import or serve", e.Path)
}

func (e *NoStoreError) Unwrap() error { return memory.ErrNotFound }
