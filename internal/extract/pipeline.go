package extract

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/llm"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// Store is what the pipeline needs of the memory store.
type Store interface {
	Write(ctx context.Context, acc memory.Access, fn func(store.Tx) error) error
	Facts(ctx context.Context, acc memory.Access, q store.FactQuery) ([]memory.Memory, error)
}

// Neighbour is a stored row near a candidate.
type Neighbour struct {
	Memory memory.Memory
	// Similarity is the cosine of the candidate's and the row's vectors;
	// Known is false when the row was found by text search alone.
	Similarity float64
	Known      bool
}

// Pipeline turns a conversation into committed decisions. Its fields are
// the providers and the store; a Pipeline is safe for concurrent use.
type Pipeline struct {
	// LLM extracts, decides and merges; nil runs Rules and decides
	// without a model (create, skip a near-identical row, supersede a
	// changed fact).
	LLM   llm.Client
	Rules capture.Extractor // the rule-based extractor (default capture.Explicit)
	Store Store
	Embed func(ctx context.Context, texts []string) ([][]float32, error)
	// Near returns the rows active now nearest to text (vec is its
	// vector), most similar first, at most k, within acc.
	Near  func(ctx context.Context, acc memory.Access, text string, vec []float32, k int) ([]Neighbour, error)
	Clock func() time.Time

	IncludeAssistant bool    // assistant turns are extraction sources too
	MaxChars         int     // transcript bound (default 8000)
	Floor            float64 // similarity a neighbour needs to be offered (default 0.7)
	Rounds           int     // commit attempts before giving up (default 4)
	User             string  // the user's name for the extraction prompt
}

// Input is one capture.
type Input struct {
	Access memory.Access // what the caller may read and write
	// Writable reports whether the caller may write scope s (nil: any
	// scope Access reaches). A match in a scope it may only read can lead
	// to skip or create, never to a change of that row.
	Writable func(memory.Scope) bool
	Scope    memory.Scope // where new rows go
	Session  string
	By       string // the agent's id, or "owner"
	Messages []Message
	// Commit, when set, runs inside the transaction that commits the
	// decisions (the caller marks its buffer consumed there); an error
	// rolls everything back and Run returns it.
	Commit func(tx store.Tx) error
}

// Action is what became of one candidate.
type Action struct {
	Decision  Kind           `json:"decision"`
	Text      string         `json:"text"`             // the candidate's abstract
	Memory    *memory.Memory `json:"-"`                // the row created or changed
	Target    string         `json:"target,omitempty"` // the stored row the decision was about
	Reason    string         `json:"reason,omitempty"`
	Candidate Candidate      `json:"-"`
}

// Outcome is what one Run did.
type Outcome struct {
	Extractor string     `json:"extractor"` // "llm" or "rules"
	Actions   []Action   `json:"actions"`
	Rejected  []Rejected `json:"rejected"`
	Warnings  []string   `json:"warnings,omitempty"`
	Rounds    int        `json:"rounds"` // commits tried (1 unless decisions went stale)
}

// ExtractError is an extraction that failed as a whole (the model was
// unreachable or its reply unusable): the caller keeps the messages for
// a later try.
type ExtractError struct{ Err error }

func (e *ExtractError) Error() string { return "extraction failed: " + e.Err.Error() }
func (e *ExtractError) Unwrap() error { return e.Err }

// ErrContended is returned when the rows a capture decided on kept
// changing under it for every round: nothing was committed.
var ErrContended = errors.New("the memories this capture decided on kept changing; nothing was committed: retry")

// errStale rolls a commit back when a decision no longer holds.
var errStale = errors.New("stale decision")

// match is a stored row offered to a candidate's decision.
type match struct {
	m        memory.Memory
	sim      float64
	known    bool
	writable bool
	fact     bool // shares the candidate's fact key
}

// plan is one candidate on its way to the store.
type plan struct {
	cand    Candidate
	vec     []float32
	key     string
	matches []match
	// facts are the revisions of the target scope's active rows with the
	// candidate's fact key when it was decided: a row outside it at
	// commit is a value of the fact the decision did not see.
	facts  map[string]int64
	dec    Decision
	merged Merged
	mvec   []float32
}

func (p *Pipeline) now() time.Time {
	if p.Clock != nil {
		return p.Clock()
	}
	return time.Now()
}

// Run extracts, decides and commits. Nothing slow runs under the write
// lock: the commit re-checks every decision against the rows as they are
// then and, when one went stale, rolls the whole commit back, decides the
// stale candidates again and commits again.
func (p *Pipeline) Run(ctx context.Context, in Input) (Outcome, error) {
	out := Outcome{Actions: []Action{}, Rejected: []Rejected{}}
	cands, err := p.extract(ctx, in, &out)
	if err != nil {
		return Outcome{}, err
	}
	plans := make([]*plan, len(cands))
	if len(cands) > 0 {
		texts := make([]string, len(cands))
		for i, c := range cands {
			texts[i] = c.Abstract
		}
		vecs, err := p.Embed(ctx, texts)
		if err != nil {
			return Outcome{}, err
		}
		plans = plans[:0]
	next:
		for i, c := range cands {
			// Near-identical candidates of one conversation collapse.
			for _, k := range plans {
				if capture.IsDuplicate(c.Abstract, k.cand.Abstract, capture.Cosine(vecs[i], k.vec), len(vecs[i]) > 0 && len(k.vec) > 0) {
					out.Rejected = append(out.Rejected, Rejected{Text: c.Abstract, Reason: "near-identical to another statement in this conversation"})
					continue next
				}
			}
			plans = append(plans, &plan{cand: c, vec: vecs[i], key: FactKey(c.Category, c.Abstract)})
		}
	}
	todo := plans
	rounds := p.Rounds
	if rounds <= 0 {
		rounds = 4
	}
	for round := 1; ; round++ {
		if err := p.decide(ctx, in, todo, &out); err != nil {
			return Outcome{}, err
		}
		actions, stale, err := p.commit(ctx, in, plans)
		out.Rounds = round
		if err != nil {
			return Outcome{}, err
		}
		if len(stale) == 0 {
			out.Actions = actions
			return out, nil
		}
		if round >= rounds {
			return Outcome{}, ErrContended
		}
		todo = stale
	}
}

// extract returns the conversation's candidates: the model's when there
// is one, else the rule-based extractor's.
func (p *Pipeline) extract(ctx context.Context, in Input, out *Outcome) ([]Candidate, error) {
	if p.LLM == nil {
		out.Extractor = "rules"
		rules := p.Rules
		if rules == nil {
			rules = capture.Explicit{}
		}
		found, skipped, err := rules.Extract(ctx, in.Messages)
		if err != nil {
			return nil, &ExtractError{Err: err}
		}
		for _, s := range skipped {
			out.Rejected = append(out.Rejected, Rejected{Text: s.Text, Reason: s.Reason})
		}
		cands := make([]Candidate, 0, len(found))
		for _, c := range found {
			cands = append(cands, FromRule(c))
		}
		return dropRedacted(cands, out), nil
	}
	out.Extractor = "llm"
	transcript := Transcript(in.Messages, TranscriptOptions{IncludeAssistant: p.IncludeAssistant, MaxChars: p.MaxChars})
	if transcript == "" {
		return nil, nil
	}
	reply, err := p.LLM.Complete(ctx, ExtractionRequest(transcript, PromptOptions{IncludeAssistant: p.IncludeAssistant, User: p.User}))
	if err != nil {
		return nil, &ExtractError{Err: err}
	}
	cands, rejected, err := ParseExtraction(reply)
	if err != nil {
		return nil, &ExtractError{Err: err}
	}
	out.Rejected = append(out.Rejected, rejected...)
	return dropRedacted(cands, out), nil
}

// dropRedacted rejects candidates that carry a redacted secret: what is
// left of the statement is the secret's placeholder, not a memory.
func dropRedacted(cands []Candidate, out *Outcome) []Candidate {
	kept := cands[:0]
	for _, c := range cands {
		if strings.Contains(c.Abstract+c.Overview+c.Content, "[REDACTED:") {
			out.Rejected = append(out.Rejected, Rejected{Text: c.Abstract, Reason: "held a secret (redacted before buffering): secrets are never captured"})
			continue
		}
		kept = append(kept, c)
	}
	return kept
}

// decide finds each plan's matches and decides it: without a model call
// when nothing is near or a row repeats it, else in one call for all.
func (p *Pipeline) decide(ctx context.Context, in Input, plans []*plan, out *Outcome) error {
	var ask []*plan
	for _, pl := range plans {
		if err := p.match(ctx, in, pl); err != nil {
			return err
		}
		pl.dec = Decision{Kind: Create, Match: -1}
		switch {
		case len(pl.matches) == 0:
			pl.dec.Reason = "nothing similar is stored"
		case pl.repeats() >= 0:
			pl.dec = Decision{Kind: Skip, Match: pl.repeats(), Reason: "near-identical to a stored memory"}
		case p.LLM == nil:
			pl.dec = pl.ruleDecision()
		default:
			ask = append(ask, pl)
		}
	}
	if len(ask) > 0 {
		items := make([]Item, len(ask))
		for i, pl := range ask {
			items[i] = Item{Candidate: pl.cand, Matches: pl.memories()}
		}
		reply, err := p.LLM.Complete(ctx, DecisionRequest(items))
		var ds []Decision
		if err == nil {
			ds, err = ParseDecisions(reply, items)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			out.Warnings = append(out.Warnings, "the decision call failed, so its candidates were created (nothing is lost): "+err.Error())
			ds = make([]Decision, len(ask))
			for i := range ds {
				ds[i] = Decision{Kind: Create, Match: -1, Reason: "the decision call failed"}
			}
		}
		for i, pl := range ask {
			pl.dec = ds[i]
		}
	}
	for _, pl := range plans {
		pl.dec = ApplyRules(pl.dec, pl.cand, pl.memories())
		if pl.dec.Match >= len(pl.matches) {
			pl.dec = Decision{Kind: Create, Match: -1, Reason: "the decision named no offered memory"}
		}
		if pl.dec.Kind != Create && pl.dec.Kind != Skip && !pl.matches[pl.dec.Match].writable {
			pl.dec = Decision{Kind: Create, Match: -1, Reason: "the similar memory is in a scope this caller may not change"}
		}
		if pl.dec.Kind == Merge {
			if err := p.merge(ctx, pl); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				out.Warnings = append(out.Warnings, "a merge failed, so its candidate was created instead (nothing is lost): "+err.Error())
				pl.dec = Decision{Kind: Create, Match: -1, Reason: "the merge failed"}
			}
		}
	}
	return nil
}

// match collects the rows a plan is decided against: the target scope's
// active rows with its fact key (a changed fact is found even when the
// embedder sees little likeness), then the nearest active rows above the
// similarity floor, at most MaxMatches.
func (p *Pipeline) match(ctx context.Context, in Input, pl *plan) error {
	now := p.now().UnixMilli()
	pl.matches, pl.facts = nil, map[string]int64{}
	seen := map[string]bool{}
	if pl.key != "" {
		rows, err := p.Store.Facts(ctx, in.Access, store.FactQuery{FactKey: pl.key, Scopes: []memory.Scope{in.Scope}})
		if err != nil {
			return err
		}
		for _, r := range rows {
			if !memory.ActiveAt(r, now) {
				continue
			}
			pl.facts[r.ID] = r.Revision
			seen[r.ID] = true
			pl.matches = append(pl.matches, match{m: r, sim: capture.Cosine(pl.vec, r.Vector), known: len(r.Vector) > 0, writable: in.writable(r.Scope), fact: true})
		}
	}
	near, err := p.Near(ctx, in.Access, pl.cand.Abstract, pl.vec, 5)
	if err != nil {
		return err
	}
	floor := p.Floor
	if floor <= 0 {
		floor = 0.7
	}
	var close []match
	for _, n := range near {
		if seen[n.Memory.ID] {
			continue // Near returns active rows only: the searcher judges that
		}
		if n.Known && n.Similarity < floor && !capture.IsDuplicate(pl.cand.Abstract, n.Memory.Text, n.Similarity, false) {
			continue
		}
		seen[n.Memory.ID] = true
		close = append(close, match{m: n.Memory, sim: n.Similarity, known: n.Known, writable: in.writable(n.Memory.Scope)})
	}
	sort.SliceStable(close, func(i, j int) bool { return close[i].sim > close[j].sim })
	pl.matches = append(pl.matches, close...)
	if len(pl.matches) > MaxMatches {
		pl.matches = pl.matches[:MaxMatches]
	}
	return nil
}

func (in Input) writable(s memory.Scope) bool {
	if in.Writable != nil {
		return in.Writable(s)
	}
	return in.Access.Allows(s)
}

func (pl *plan) memories() []memory.Memory {
	ms := make([]memory.Memory, len(pl.matches))
	for i, m := range pl.matches {
		ms[i] = m.m
	}
	return ms
}

// repeats returns the index of a match the candidate repeats (same
// normalised text, or near-identical wording close in vector space), or -1.
func (pl *plan) repeats() int {
	for i, m := range pl.matches {
		if capture.IsDuplicate(pl.cand.Abstract, m.m.Text, m.sim, m.known) {
			return i
		}
	}
	return -1
}

// ruleDecision decides without a model: a preferences or entities
// candidate whose fact has another value now supersedes it; anything else
// is created (a similar row is not enough to replace one: with a lexical
// embedder "I like tea" and "I like coffee" look alike).
func (pl *plan) ruleDecision() Decision {
	if pl.cand.Category == memory.SmartPreferences || pl.cand.Category == memory.SmartEntities {
		for i, m := range pl.matches {
			if m.fact && m.writable {
				return Decision{Kind: Supersede, Match: i, Reason: "a new value of " + pl.key}
			}
		}
	}
	return Decision{Kind: Create, Match: -1, Reason: "no stored memory says the same"}
}

// merge asks the model to combine the matched row with the candidate.
func (p *Pipeline) merge(ctx context.Context, pl *plan) error {
	stored := pl.matches[pl.dec.Match].m
	reply, err := p.LLM.Complete(ctx, MergeRequest(stored, pl.cand))
	if err != nil {
		return err
	}
	m, err := ParseMerge(reply)
	if err != nil {
		return err
	}
	vecs, err := p.Embed(ctx, []string{m.Abstract})
	if err != nil {
		return err
	}
	pl.merged, pl.mvec = m, vecs[0]
	return nil
}

// commit writes every plan's decision in one transaction. A plan whose
// decision no longer holds (its target changed, or its fact got a value
// the decision did not see) makes the whole commit roll back and is
// returned to be decided again.
func (p *Pipeline) commit(ctx context.Context, in Input, plans []*plan) ([]Action, []*plan, error) {
	var actions []Action
	var stale []*plan
	// Run again after a deadlock with another host's write (WriteAgain):
	// each run decides afresh, at its own time, taken inside the write.
	err := store.WriteAgain(ctx, p.Store, in.Access, func(tx store.Tx) error {
		now := p.now().UnixMilli()
		actions, stale = make([]Action, 0, len(plans)), nil
		for _, pl := range plans {
			a, ok, err := p.apply(tx, in, pl, now)
			if err != nil {
				return err
			}
			if !ok {
				stale = append(stale, pl)
				continue
			}
			actions = append(actions, a)
		}
		if len(stale) > 0 {
			return errStale
		}
		if in.Commit != nil {
			return in.Commit(tx)
		}
		return nil
	})
	if errors.Is(err, errStale) {
		return nil, stale, nil
	}
	return actions, nil, err
}

// apply writes one plan's decision inside tx; ok is false when the
// decision went stale.
func (p *Pipeline) apply(tx store.Tx, in Input, pl *plan, now int64) (Action, bool, error) {
	a := Action{Decision: pl.dec.Kind, Text: pl.cand.Abstract, Reason: pl.dec.Reason, Candidate: pl.cand}
	var target *match
	if pl.dec.Match >= 0 && pl.dec.Match < len(pl.matches) {
		target = &pl.matches[pl.dec.Match]
		a.Target = target.m.ID
	}
	if pl.key != "" && pl.dec.Kind != Skip {
		rows, err := tx.FactRows(in.Scope, pl.key)
		if err != nil {
			return a, false, err
		}
		for _, r := range rows {
			// A value another host committed while this write waited for
			// the fact's lock is active, even if that host's clock is
			// ahead of ours.
			at := now
			if memory.ValidFrom(r) == r.CreatedAt && r.CreatedAt > at {
				at = r.CreatedAt
			}
			if rev, seen := pl.facts[r.ID]; memory.ActiveAt(r, at) && (!seen || rev != r.Revision) {
				return a, false, nil
			}
		}
	}
	// cur is the target as it is now; a decision that changes it needs
	// the revision it was decided on.
	var cur memory.Memory
	if target != nil {
		var err error
		cur, err = tx.Get(target.m.ID)
		switch {
		case errors.Is(err, memory.ErrNotFound):
			return a, false, nil
		case err != nil:
			return a, false, err
		}
		if !memory.ActiveAt(cur, now) {
			return a, false, nil
		}
	}
	// A decision that changes its target was made on the revision it
	// read: a target edited since is decided again, on its new state.
	switch pl.dec.Kind {
	case Merge, Support, Supersede, Contradict:
		if cur.Revision != target.m.Revision {
			return a, false, nil
		}
	}
	switch pl.dec.Kind {
	case Skip:
		return a, true, nil
	case Merge:
		m := p.mergedRow(cur, pl, now)
		if err := tx.Update(&m); err != nil {
			return a, false, err
		}
		a.Memory = &m
		return a, true, nil
	case Support:
		m := cur
		m.Metadata = memory.CloneMetadata(cur.Metadata)
		supportRow(m.Metadata, pl.dec.ContextLabel, false, now)
		if err := tx.Update(&m); err != nil {
			return a, false, err
		}
		a.Memory = &m
		return a, true, nil
	}
	m := p.newRow(in, pl, now)
	switch pl.dec.Kind {
	case Supersede:
		m.Metadata[memory.KeySupersedes] = cur.ID
		if pl.key == "" {
			if k := memory.MetaString(cur.Metadata, memory.KeyFactKey); k != "" {
				m.Metadata[memory.KeyFactKey] = k
			}
		}
	case Contextualize, Contradict:
		m.Metadata["relation"] = string(pl.dec.Kind)
		m.Metadata["related_to"] = cur.ID
		if pl.dec.ContextLabel != "" {
			m.Metadata["context_label"] = pl.dec.ContextLabel
		}
	}
	created, dup, err := insertCaptured(tx, &m, pl.dec.Kind, now)
	if err != nil {
		return a, false, err
	}
	if !created {
		return Action{Decision: Skip, Text: pl.cand.Abstract, Target: dup, Reason: "the same memory was captured meanwhile", Candidate: pl.cand}, true, nil
	}
	a.Memory = &m
	switch pl.dec.Kind {
	case Supersede:
		old := cur
		old.Metadata = memory.CloneMetadata(cur.Metadata)
		old.Metadata[memory.KeyInvalidatedAt] = float64(now)
		old.Metadata[memory.KeySupersededBy] = m.ID
		if err := tx.Update(&old); err != nil {
			return a, false, err
		}
	case Contradict:
		old := cur
		old.Metadata = memory.CloneMetadata(cur.Metadata)
		supportRow(old.Metadata, pl.dec.ContextLabel, true, now)
		if err := tx.Update(&old); err != nil {
			return a, false, err
		}
	}
	return a, true, nil
}

// newRow is the memory a created candidate becomes.
func (p *Pipeline) newRow(in Input, pl *plan, now int64) memory.Memory {
	c := pl.cand
	md := map[string]any{
		memory.KeyL0:             c.Abstract,
		memory.KeyL1:             c.Overview,
		memory.KeyL2:             c.Content,
		memory.KeyMemoryCategory: string(c.Category),
		memory.KeySource:         "auto-capture",
		memory.KeyValidFrom:      float64(now),
		memory.KeyConfidence:     0.7,
		"session":                in.Session,
		"captured_by":            in.By,
		"captured_at":            float64(now),
		"capture_rule":           c.Rule,
	}
	if pl.key != "" {
		md[memory.KeyFactKey] = pl.key
	}
	typ, until := Temporal(c.Abstract+"\n"+c.Content, time.UnixMilli(now))
	md[memory.KeyTemporalType] = typ
	if until > 0 {
		md[memory.KeyValidUntil] = float64(until)
	}
	return memory.Memory{Text: c.Abstract, Category: memory.StorageCategoryFor(c.Category), Scope: in.Scope,
		Importance: Importance(c.Category), Format: memory.FormatSmart, Metadata: md, Vector: pl.vec}
}

// mergedRow is cur with the merge written in: new levels and vector, the
// larger importance, provenance of the merge.
func (p *Pipeline) mergedRow(cur memory.Memory, pl *plan, now int64) memory.Memory {
	m := cur
	md := memory.CloneMetadata(cur.Metadata)
	md[memory.KeyL0] = pl.merged.Abstract
	md[memory.KeyL1] = pl.merged.Overview
	md[memory.KeyL2] = pl.merged.Content
	if memory.MetaString(md, memory.KeyMemoryCategory) == "" {
		md[memory.KeyMemoryCategory] = string(pl.cand.Category)
	}
	if memory.MetaString(md, memory.KeyFactKey) == "" && pl.key != "" {
		md[memory.KeyFactKey] = pl.key
	}
	n, _ := memory.MetaNumber(md, "merge_count")
	md["merge_count"] = n + 1
	md["merged_at"] = float64(now)
	m.Metadata = md
	m.Text, m.Vector, m.Format = pl.merged.Abstract, pl.mvec, memory.FormatSmart
	m.Importance = max(m.Importance, Importance(pl.cand.Category))
	return m
}

// captureNS names the ids of captured memories (UUID v5).
var captureNS = uuid.MustParse("6f1d2c1e-3b7a-5c1e-9a51-74726f766531")

// CaptureID is the id a captured statement gets: the same for the same
// scope and normalised text, so that two captures of one statement that
// both decided "create" without a lock meet at commit on the store's
// unique id.
func CaptureID(scope memory.Scope, text string) string {
	return uuid.NewSHA1(captureNS, []byte(string(scope)+"\n"+capture.Normalize(text))).String()
}

// insertCaptured inserts m under its capture id. When a row already
// holds that id, with the same scope and normalised text, the statement
// was captured before: created is false and dup names that row, if the
// row is still active (captured meanwhile by a racing capture), or if it
// was since replaced and the decision was a plain create (the same
// conversation captured again must not bring an old value back; a move
// back is a supersede, which the model decides). A row holding the id
// that has since been edited or moved does not count; m gets a fresh id.
func insertCaptured(tx store.Tx, m *memory.Memory, kind Kind, now int64) (created bool, dup string, err error) {
	m.ID = CaptureID(m.Scope, m.Text)
	err = tx.Insert(m)
	if errors.Is(err, memory.ErrExists) {
		prev, gerr := tx.Get(m.ID)
		if gerr == nil && prev.Scope == m.Scope && capture.Normalize(prev.Text) == capture.Normalize(m.Text) &&
			(memory.ActiveAt(prev, now) || kind == Create) {
			return false, prev.ID, nil
		}
		m.ID = uuid.NewString()
		err = tx.Insert(m)
	}
	if err != nil {
		return false, "", fmt.Errorf("storing %q: %w", m.Text, err)
	}
	return true, "", nil
}

// maxSupportSlices bounds the per-context slices kept on a row.
const maxSupportSlices = 8

// supportRow records one confirmation (or contradiction) of the row whose
// metadata is md in memory-lancedb-pro's support_info shape:
// {global_strength, total_observations, slices: [{context,
// confirmations, contradictions, strength, last_observed_at}]}. Its
// confidence follows the global strength.
func supportRow(md map[string]any, label string, contradict bool, now int64) {
	if !slices.Contains(ContextLabels, label) { // a label the prompt does not offer counts as general
		label = "general"
	}
	info, _ := md["support_info"].(map[string]any)
	var sl []map[string]any
	if info != nil {
		if raw, ok := info["slices"].([]any); ok {
			for _, r := range raw {
				if s, ok := r.(map[string]any); ok {
					sl = append(sl, memory.CloneMetadata(s))
				}
			}
		}
	}
	var slice map[string]any
	for _, s := range sl {
		if s["context"] == label {
			slice = s
		}
	}
	if slice == nil {
		slice = map[string]any{"context": label, "confirmations": 0.0, "contradictions": 0.0}
		sl = append(sl, slice)
	}
	conf, _ := memory.MetaNumber(slice, "confirmations")
	contra, _ := memory.MetaNumber(slice, "contradictions")
	if contradict {
		contra++
	} else {
		conf++
	}
	slice["confirmations"], slice["contradictions"] = conf, contra
	slice["strength"] = conf / (conf + contra)
	slice["last_observed_at"] = float64(now)
	sort.SliceStable(sl, func(i, j int) bool {
		a, _ := memory.MetaNumber(sl[i], "last_observed_at")
		b, _ := memory.MetaNumber(sl[j], "last_observed_at")
		return a > b
	})
	if len(sl) > maxSupportSlices {
		sl = sl[:maxSupportSlices] // the least recently observed go
	}
	// The totals carry every observation, those of dropped slices too:
	// the confirmations so far are global_strength × total_observations.
	total, _ := memory.MetaNumber(info, "total_observations")
	strength, ok := memory.MetaNumber(info, "global_strength")
	if !ok {
		strength = 0.5
	}
	confirmed := strength * total
	if !contradict {
		confirmed++
	}
	total++
	strength = confirmed / total
	out := make([]any, len(sl))
	for i, s := range sl {
		out[i] = s
	}
	md["support_info"] = map[string]any{"global_strength": strength, "total_observations": total, "slices": out}
	md[memory.KeyConfidence] = strength
	md["last_supported_at"] = float64(now)
}
