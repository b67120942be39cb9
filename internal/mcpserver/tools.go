package mcpserver

import (
	"context"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/trove-memory/trove/internal/service"
)

// Tool arguments. The schemas the SDK derives from these types are what an
// agent sees: descriptions live in the jsonschema tags.

type recallArgs struct {
	recallQuery
	Debug bool `json:"debug,omitempty" jsonschema:"also return every candidate's score after each stage, the candidates dropped with the reason, and each stage's counts, time and score range (as memory_debug)"`
}

// recallQuery is what memory_recall and memory_debug share.
type recallQuery struct {
	Query    string `json:"query" jsonschema:"what to recall, in natural language"`
	Scope    string `json:"scope,omitempty" jsonschema:"only this scope (default: every scope you can read)"`
	Category string `json:"category,omitempty" jsonschema:"only this category: preference, fact, decision, entity, reflection or other"`
	// MemoryCategory is the six-category vocabulary, not category's.
	MemoryCategory string `json:"memory_category,omitempty" jsonschema:"only this memory_category: profile, preferences, entities, events, cases or patterns (legacy rows count by their category: fact as profile or cases, decision as events)"`
	Limit          int    `json:"limit,omitempty" jsonschema:"at most this many memories, 1 to 50 (default 5)"`
	service.Validity
	// The description is service.MinScoreHelp (TestMinScoreSchema).
	MinScore *float64 `json:"min_score,omitempty" jsonschema:"minimum relevance from 0 to 1, overriding retrieval.minScore (default 0.3). 0.3 keeps every memory that shares a word, or with a semantic model a meaning, with the query; 0.5 keeps clear matches (with the offline embedder most right answers score 0.5 to 0.65, most wrong ones under 0.45); 0.8 keeps only near-certain matches, which take a semantic model or a reranker"`
}

func (in recallQuery) input(debug bool) service.RecallInput {
	return service.RecallInput{Query: in.Query, Scopes: one(in.Scope), Categories: one(in.Category), MemoryCategories: one(in.MemoryCategory),
		Limit: in.Limit, MinScore: in.MinScore, Debug: debug, Validity: in.Validity}
}

type idArgs struct {
	ID string `json:"id" jsonschema:"the memory's id, or a unique prefix of at least 8 characters"`
}

type listArgs struct {
	Scope    string `json:"scope,omitempty" jsonschema:"only this scope (default: every scope you can read)"`
	Category string `json:"category,omitempty" jsonschema:"only this category: preference, fact, decision, entity, reflection or other"`
	// MemoryCategory is the six-category vocabulary, not category's.
	MemoryCategory string `json:"memory_category,omitempty" jsonschema:"only this memory_category: profile, preferences, entities, events, cases or patterns (legacy rows count by their category: fact as profile or cases, decision as events)"`
	Limit          int    `json:"limit,omitempty" jsonschema:"memories per page, 1 to 200 (default 20)"`
	Cursor         string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page"`
	Offset         int    `json:"offset,omitempty" jsonschema:"skip this many memories first, 0 to 10000 (default 0); prefer cursor to page far"`
	service.Validity
}

type factArgs struct {
	Query          string `json:"query,omitempty" jsonschema:"text to find the fact by (its topic or value); give this or factKey"`
	FactKey        string `json:"factKey,omitempty" jsonschema:"the exact fact key, e.g. entities:home city"`
	At             string `json:"at,omitempty" jsonschema:"the time to judge values at (RFC 3339 or a date); default now"`
	Scope          string `json:"scope,omitempty" jsonschema:"only this scope (default: every scope you can read)"`
	IncludeHistory bool   `json:"includeHistory,omitempty" jsonschema:"return earlier values too (default: only the value true at 'at')"`
	Limit          int    `json:"limit,omitempty" jsonschema:"at most this many values, 1 to 100 (default 10)"`
}

// Governance arguments carry memory-lancedb-pro's names (memoryId,
// dryRun), so its agents' calls work unchanged.
type targetArgs struct {
	MemoryID string `json:"memoryId,omitempty" jsonschema:"the memory's id, or a unique prefix of at least 8 characters; give this or query"`
	Query    string `json:"query,omitempty" jsonschema:"find the memory by recall instead: the best active match in the scopes you may write"`
	Scope    string `json:"scope,omitempty" jsonschema:"with query: search only this scope"`
}

func (a targetArgs) target() service.Target {
	return service.Target{ID: a.MemoryID, Query: a.Query, Scope: a.Scope}
}

type promoteArgs struct {
	targetArgs
	State string `json:"state,omitempty" jsonschema:"pending or confirmed (default confirmed)"`
	Layer string `json:"layer,omitempty" jsonschema:"durable, working, reflection or archive (default durable)"`
}

type archiveArgs struct {
	targetArgs
	Reason string `json:"reason,omitempty" jsonschema:"why, for the audit trail (default manual_archive)"`
}

type compactArgs struct {
	Scope  string `json:"scope,omitempty" jsonschema:"only this scope (default: every scope you may write)"`
	DryRun *bool  `json:"dryRun,omitempty" jsonschema:"only report what would be archived (default true); false archives the duplicates"`
	Limit  int    `json:"limit,omitempty" jsonschema:"scan only the newest this many active memories, 1 to 100000 (default: every one)"`
}

type captureStatusArgs struct {
	CaptureID string `json:"capture_id" jsonschema:"the capture_id an async memory_capture returned"`
}

type statsArgs struct {
	Scope string `json:"scope,omitempty" jsonschema:"only this scope (default: every scope you can read)"`
}

func one(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

var toolNames = []string{ToolStore, ToolRecall, ToolSearch, ToolDebug, ToolGet, ToolUpdate, ToolForget, ToolList, ToolStats, ToolHistory, ToolRevert,
	ToolCapture, ToolCaptureStatus, ToolFactQuery, ToolPromote, ToolArchive, ToolCompact, ToolRecallContext, ToolFeedback}

func isTool(name string) bool { return slices.Contains(toolNames, name) }

func boolPtr(b bool) *bool { return &b }

var (
	readOnly    = &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: boolPtr(false)}
	additive    = &mcp.ToolAnnotations{DestructiveHint: boolPtr(false), OpenWorldHint: boolPtr(false)}
	destructive = &mcp.ToolAnnotations{DestructiveHint: boolPtr(true), IdempotentHint: true, OpenWorldHint: boolPtr(false)}
)

func (s *Server) register() {
	add(s, &mcp.Tool{Name: ToolStore, Annotations: additive,
		Description: "Store a memory: one durable, self-contained statement worth keeping across sessions " +
			"(a preference, fact, decision, entity or lesson). Returns the memory and its outcome: created; duplicate (a stored " +
			"memory already says it: that one is returned, nothing is written; force stores anyway); superseded (a new value " +
			"of a preference or entity replaced the old one, kept as history). Noise and secrets are refused."},
		func(ctx context.Context, c service.Caller, in service.StoreInput) (service.StoreOutput, error) {
			return s.svc.Store(ctx, c, in)
		})
	recall := func(ctx context.Context, c service.Caller, in recallArgs) (service.RecallOutput, error) {
		return s.svc.Recall(ctx, c, in.input(in.Debug))
	}
	const recallDesc = "Recall the memories most relevant to a query, best first, with scores. " +
		"Use it before answering anything that may depend on earlier conversations."
	add(s, &mcp.Tool{Name: ToolRecall, Annotations: readOnly, Description: recallDesc}, recall)
	add(s, &mcp.Tool{Name: ToolSearch, Annotations: readOnly, Description: "Alias of memory_recall. " + recallDesc}, recall)
	add(s, &mcp.Tool{Name: ToolDebug, Annotations: readOnly,
		Description: "Explain a recall: memory_recall's answer with, per stage (lexical, vector, fusion, floor, rerank, score, " +
			"decay, noise, dedup, limit), the candidates in and out, its time and score range; per memory its lexical, vector, " +
			"rerank and lifecycle components and its score after each stage; and every candidate dropped, with the reason. " +
			"The same as memory_recall with debug, trove search --debug and POST /v1/search with debug."},
		func(ctx context.Context, c service.Caller, in recallQuery) (service.RecallOutput, error) {
			return s.svc.Recall(ctx, c, in.input(true))
		})
	add(s, &mcp.Tool{Name: ToolGet, Annotations: readOnly,
		Description: "Read one memory by id (or a unique id prefix of at least 8 characters)."},
		func(ctx context.Context, c service.Caller, in idArgs) (service.Memory, error) {
			return s.svc.Get(ctx, c, in.ID)
		})
	add(s, &mcp.Tool{Name: ToolUpdate, Annotations: &mcp.ToolAnnotations{DestructiveHint: boolPtr(true), OpenWorldHint: boolPtr(false)},
		Description: "Change a memory's text, category, importance, scope or metadata in one step; only the fields given change. " +
			"metadata is merged (a key set to null is removed). Give expected_revision (the revision you read) to refuse the " +
			"update if the memory changed meanwhile: a conflict error then tells you to read it again."},
		func(ctx context.Context, c service.Caller, in service.UpdateInput) (service.Memory, error) {
			return s.svc.Update(ctx, c, in)
		})
	add(s, &mcp.Tool{Name: ToolForget, Annotations: destructive,
		Description: "Delete a memory by id (or a unique id prefix of at least 8 characters)."},
		func(ctx context.Context, c service.Caller, in service.ForgetInput) (service.ForgetOutput, error) {
			return s.svc.Forget(ctx, c, in)
		})
	add(s, &mcp.Tool{Name: ToolList, Annotations: readOnly,
		Description: "List memories newest first, one page at a time; pass next_cursor as cursor for the next page."},
		func(ctx context.Context, c service.Caller, in listArgs) (service.ListOutput, error) {
			return s.svc.List(ctx, c, service.ListInput{Scopes: one(in.Scope), Categories: one(in.Category), MemoryCategories: one(in.MemoryCategory), Limit: in.Limit, Cursor: in.Cursor, Offset: in.Offset, Validity: in.Validity})
		})
	add(s, &mcp.Tool{Name: ToolStats, Annotations: readOnly,
		Description: "Count the memories you can read, by scope, category, lifecycle tier and format."},
		func(ctx context.Context, c service.Caller, in statsArgs) (service.StatsOutput, error) {
			return s.svc.Stats(ctx, c, one(in.Scope))
		})
	add(s, &mcp.Tool{Name: ToolHistory, Annotations: readOnly,
		Description: "List a memory's earlier versions, newest first: each with who replaced it, when, how (update or delete) " +
			"and what the change did to the text. Use memory_revert to write one back."},
		func(ctx context.Context, c service.Caller, in service.HistoryInput) (service.HistoryOutput, error) {
			return s.svc.History(ctx, c, in)
		})
	add(s, &mcp.Tool{Name: ToolRevert, Annotations: &mcp.ToolAnnotations{DestructiveHint: boolPtr(true), OpenWorldHint: boolPtr(false)},
		Description: "Write an earlier version of a memory (its revision from memory_history) back as a new revision. " +
			"Give expected_revision (the revision you read): if the memory changed meanwhile, a conflict error tells you to read it again."},
		func(ctx context.Context, c service.Caller, in service.RevertInput) (service.Memory, error) {
			return s.svc.Revert(ctx, c, in)
		})
	add(s, &mcp.Tool{Name: ToolCapture, Annotations: additive,
		Description: "Capture memories from a conversation: send each turn's new messages with the session's id. They are " +
			"buffered and, once there are enough (or on flush: true at the session's end, or an explicit 'remember this'), " +
			"extracted and compared with what is stored: each candidate is created, merged into, skipped as known, or " +
			"supersedes an outdated fact. Returns what was decided; with async: true returns a capture_id at once."},
		func(ctx context.Context, c service.Caller, in service.CaptureInput) (service.CaptureOutput, error) {
			return s.svc.Capture(ctx, c, in)
		})
	add(s, &mcp.Tool{Name: ToolCaptureStatus, Annotations: readOnly,
		Description: "Report an asynchronous memory_capture by its capture_id: pending, running, done (with what was decided) or failed."},
		func(ctx context.Context, c service.Caller, in captureStatusArgs) (service.CaptureOutput, error) {
			return s.svc.CaptureStatus(ctx, c, in.CaptureID)
		})
	add(s, &mcp.Tool{Name: ToolFactQuery, Annotations: readOnly,
		Description: "Query a fact's values over time by fact key or text, newest first, without semantic ranking: what is " +
			"true now (active), what was true at a time (at), and with includeHistory the values it replaced."},
		func(ctx context.Context, c service.Caller, in factArgs) (service.FactsOutput, error) {
			return s.svc.Facts(ctx, c, service.FactsInput{Query: in.Query, FactKey: in.FactKey, At: in.At, IncludeHistory: in.IncludeHistory,
				Scopes: one(in.Scope), Limit: in.Limit})
		})
	add(s, &mcp.Tool{Name: ToolPromote, Annotations: &mcp.ToolAnnotations{DestructiveHint: boolPtr(false), IdempotentHint: true, OpenWorldHint: boolPtr(false)},
		Description: "Promote a memory (by memoryId, or the best match for query) to confirmed (or pending) state in the durable " +
			"(or given) layer: clears its auto-recall suppression and brings it back if it was archived."},
		func(ctx context.Context, c service.Caller, in promoteArgs) (service.GovernOutput, error) {
			return s.svc.Promote(ctx, c, service.PromoteInput{Target: in.target(), State: in.State, Layer: in.Layer})
		})
	add(s, &mcp.Tool{Name: ToolArchive, Annotations: &mcp.ToolAnnotations{DestructiveHint: boolPtr(true), IdempotentHint: true, OpenWorldHint: boolPtr(false)},
		Description: "Archive a memory (by memoryId, or the best match for query) with a reason: it is kept with its history but no " +
			"longer recalled or auto-injected (include_history still shows it). memory_promote brings it back."},
		func(ctx context.Context, c service.Caller, in archiveArgs) (service.GovernOutput, error) {
			return s.svc.Archive(ctx, c, service.ArchiveInput{Target: in.target(), Reason: in.Reason})
		})
	add(s, &mcp.Tool{Name: ToolCompact, Annotations: &mcp.ToolAnnotations{DestructiveHint: boolPtr(true), OpenWorldHint: boolPtr(false)},
		Description: "Find memories that say the same thing (same scope, category and normalised abstract) and, with dryRun: false, " +
			"archive all but the newest of each group, linked to it by canonical_id. By default only reports."},
		func(ctx context.Context, c service.Caller, in compactArgs) (service.CompactOutput, error) {
			return s.svc.Compact(ctx, c, service.CompactInput{Scopes: one(in.Scope), DryRun: in.DryRun, Limit: in.Limit})
		})
	add(s, &mcp.Tool{Name: ToolRecallContext, Annotations: additive, // a session's turn is recorded
		Description: "Auto-recall for an agent host: the block of memories to put before the model's turn for a prompt (empty, no tag at all, " +
			"when the prompt needs no recall or nothing is relevant), framed as untrusted data, with the ids of the memories in it. " +
			"With a session, a memory is not injected again for a few turns and memory_feedback can report on what was injected."},
		func(ctx context.Context, c service.Caller, in service.ContextInput) (service.ContextOutput, error) {
			return s.svc.RecallContext(ctx, c, in)
		})
	add(s, &mcp.Tool{Name: ToolFeedback, Annotations: &mcp.ToolAnnotations{DestructiveHint: boolPtr(false), OpenWorldHint: boolPtr(false)},
		Description: "Report which memories that auto-recall injected (recall-context with a session) your answer used: used ones " +
			"gain importance; ones injected but unused again and again are left out of auto-recall for a while."},
		func(ctx context.Context, c service.Caller, in service.FeedbackInput) (service.FeedbackOutput, error) {
			return s.svc.Feedback(ctx, c, in)
		})
}

// add registers a typed tool whose handler takes the caller and returns a
// service error on failure.
func add[In, Out any](s *Server, t *mcp.Tool, run func(context.Context, service.Caller, In) (Out, error)) {
	mcp.AddTool(s.mcp, t, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		var zero Out
		c, err := s.caller(req)
		if err != nil {
			return nil, zero, err
		}
		out, err := run(ctx, c, in)
		if err != nil {
			return nil, zero, service.ErrorOf(err)
		}
		return nil, out, nil
	})
}
