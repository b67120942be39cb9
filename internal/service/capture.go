package service

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/retrieve"
	"github.com/trove-memory/trove/internal/store"
)

const (
	// neighbours is how many existing memories each candidate is compared with.
	neighbours = 5
	// fallbackScan bounds the newest rows of a scope compared with a
	// candidate when no searcher is configured.
	fallbackScan = 500
)

// Message is one turn of a conversation ({role, content}).
type Message = capture.Message

// CaptureInput is a conversation turn to capture memories from.
type CaptureInput struct {
	Messages []Message `json:"messages"`
	Scope    string    `json:"scope,omitempty"`
}

// CaptureOutput says what was stored and what was skipped, and why.
type CaptureOutput struct {
	Stored   []Memory       `json:"stored"`
	Skipped  []capture.Skip `json:"skipped"`
	Warnings []string       `json:"warnings,omitempty"`
}

// Capture stores what is worth keeping from a conversation turn: the
// Extractor's candidates, minus near-duplicates of memories already in the
// target scope (vector similarity, then text comparison) and of each
// other. No lock is held while the embedder and the searcher run, so
// concurrent captures overlap; the survivors go in with one write, which
// re-checks each against the rows committed meanwhile (commitCaptured), so
// two captures racing with the same statement store it once.
func (s *Service) Capture(ctx context.Context, c Caller, in CaptureInput) (CaptureOutput, error) {
	acc, err := s.access(c)
	if err != nil {
		return CaptureOutput{}, err
	}
	switch {
	case len(in.Messages) == 0:
		return CaptureOutput{}, Invalid("messages is empty: send the turn's messages as [{\"role\":\"user\",\"content\":\"...\"}]")
	case len(in.Messages) > MaxCaptureMessages:
		return CaptureOutput{}, Invalid("%d messages is over the limit of %d: send one turn at a time", len(in.Messages), MaxCaptureMessages)
	}
	for i, m := range in.Messages {
		if len(m.Content) > MaxMessageBytes {
			return CaptureOutput{}, Invalid("messages[%d].content is %d bytes, over the %d-byte limit", i, len(m.Content), MaxMessageBytes)
		}
		if !utf8.ValidString(m.Content) || !utf8.ValidString(m.Role) {
			return CaptureOutput{}, Invalid("messages[%d] is not valid UTF-8: re-encode it as UTF-8", i)
		}
	}
	scope, err := s.writeScope(c, acc, in.Scope)
	if err != nil {
		return CaptureOutput{}, err
	}
	cands, skipped, err := s.opts.Extractor.Extract(ctx, in.Messages)
	if err != nil {
		return CaptureOutput{}, ErrorOf(err)
	}
	out := CaptureOutput{Stored: []Memory{}, Skipped: skipped}
	if out.Skipped == nil {
		out.Skipped = []capture.Skip{}
	}
	if len(cands) == 0 {
		return out, nil
	}
	texts := make([]string, len(cands))
	for i, cd := range cands {
		texts[i] = cd.Text
	}
	vecs, err := s.embed(ctx, texts)
	if err != nil {
		return CaptureOutput{}, err
	}

	now := s.opts.Clock().UnixMilli()
	by := c.Agent
	if by == "" {
		by = "owner"
	}
	var keep []memory.Memory
	for i, cd := range cands {
		dup, warn, err := s.duplicate(ctx, acc, scope, cd.Text, vecs[i], keep)
		if err != nil {
			return CaptureOutput{}, err
		}
		if warn != "" && len(out.Warnings) == 0 {
			out.Warnings = append(out.Warnings, warn)
		}
		if dup != "" {
			reason := "near-identical to an existing memory in " + string(scope)
			if dup == "-" {
				reason, dup = "near-identical to another statement in this turn", ""
			}
			out.Skipped = append(out.Skipped, capture.Skip{Text: cd.Text, Reason: reason, DuplicateOf: dup})
			continue
		}
		m := memory.Memory{Text: cd.Text, Category: cd.Category, Scope: scope, Importance: cd.Importance, Vector: vecs[i],
			Metadata: map[string]any{memory.KeySource: "capture", "captured_by": by, "captured_at": float64(now), "capture_rule": cd.Rule}}
		if err := m.Validate(); err != nil {
			out.Skipped = append(out.Skipped, capture.Skip{Text: cd.Text, Reason: err.Error()})
			continue
		}
		keep = append(keep, m)
	}
	if len(keep) == 0 {
		return out, nil
	}
	res, err := s.commitCaptured(ctx, acc, keep)
	if err != nil {
		return CaptureOutput{}, ErrorOf(err)
	}
	for i, r := range res {
		switch {
		case r.dup != "":
			out.Skipped = append(out.Skipped, capture.Skip{Text: keep[i].Text, Reason: "near-identical to an existing memory in " + string(scope), DuplicateOf: r.dup})
		case r.err != nil:
			out.Skipped = append(out.Skipped, capture.Skip{Text: keep[i].Text, Reason: ErrorOf(r.err).Message})
		default:
			out.Stored = append(out.Stored, View(keep[i]))
		}
	}
	return out, nil
}

// captureNS names the ids of captured memories (UUID v5).
var captureNS = uuid.MustParse("6f1d2c1e-3b7a-5c1e-9a51-74726f766531")

// captureID is the id a captured statement gets: the same for the same
// scope and normalised text, so that two captures of one statement that
// both passed the duplicate check (made without a lock, while the
// providers are called) meet at commit on the store's unique id.
func captureID(scope memory.Scope, text string) string {
	return uuid.NewSHA1(captureNS, []byte(string(scope)+"\n"+capture.Normalize(text))).String()
}

type captured struct {
	dup string // id of the row this one repeats
	err error  // the item's own error
}

// commitCaptured inserts ms in one write, re-making the duplicate decision
// inside it: a row already holding a statement's capture id, still in its
// scope with the same normalised text, makes it a duplicate. A row that
// holds the id but has since been edited or moved does not; the statement
// is stored under a fresh id then.
func (s *Service) commitCaptured(ctx context.Context, acc memory.Access, ms []memory.Memory) ([]captured, error) {
	res := make([]captured, len(ms))
	err := s.opts.Store.Write(ctx, acc, func(tx store.Tx) error {
		for i := range ms {
			m := &ms[i]
			res[i] = captured{}
			m.ID = captureID(m.Scope, m.Text)
			err := tx.Insert(m)
			if errors.Is(err, memory.ErrExists) {
				prev, gerr := tx.Get(m.ID)
				if gerr == nil && prev.Scope == m.Scope && capture.Normalize(prev.Text) == capture.Normalize(m.Text) {
					res[i].dup = prev.ID
					continue
				}
				m.ID = uuid.NewString()
				err = tx.Insert(m)
			}
			switch {
			case err == nil:
			case store.IsItemError(err):
				res[i].err = err
			default:
				return err
			}
		}
		return nil
	})
	return res, err
}

// duplicate returns the id of a memory in scope that text repeats ("-"
// for one of this turn's earlier candidates), or "".
func (s *Service) duplicate(ctx context.Context, acc memory.Access, scope memory.Scope, text string, vec []float32, earlier []memory.Memory) (id, warning string, err error) {
	for _, m := range earlier {
		if capture.IsDuplicate(text, m.Text, capture.Cosine(vec, m.Vector), true) {
			return "-", "", nil
		}
	}
	near, warning, err := s.near(ctx, acc, scope, text, vec)
	if err != nil {
		return "", "", err
	}
	for _, n := range near {
		if capture.IsDuplicate(text, n.m.Text, n.cos, n.known) {
			return n.m.ID, warning, nil
		}
	}
	return "", warning, nil
}

type neighbour struct {
	m     memory.Memory
	cos   float64
	known bool
}

// near finds the memories of scope closest to text: through the searcher
// when there is one, else among the scope's newest rows.
func (s *Service) near(ctx context.Context, acc memory.Access, scope memory.Scope, text string, vec []float32) ([]neighbour, string, error) {
	var warning string
	if s.opts.Searcher != nil {
		resp, err := s.opts.Searcher.Search(ctx, acc, retrieve.Request{Query: text, Scopes: []memory.Scope{scope}, Limit: neighbours})
		if err == nil {
			out := make([]neighbour, 0, len(resp.Results))
			for _, r := range resp.Results {
				if r.Memory.Scope != scope {
					continue
				}
				n := neighbour{m: r.Memory}
				switch {
				case len(r.Memory.Vector) > 0:
					n.cos, n.known = capture.Cosine(vec, r.Memory.Vector), true
				case r.Sources.Vector != nil:
					n.cos, n.known = *r.Sources.Vector, true
				}
				out = append(out, n)
			}
			return out, "", nil
		}
		if ctx.Err() != nil {
			return nil, "", ErrorOf(ctx.Err())
		}
		warning = fmt.Sprintf("duplicate check fell back to the newest %d memories of %s: recall failed (%s)", fallbackScan, scope, ErrorOf(err).Message)
	}
	page, err := s.opts.Store.List(ctx, acc, store.ListOptions{Filter: store.Filter{Scopes: []memory.Scope{scope}}, Limit: fallbackScan, WithVectors: true})
	if err != nil {
		return nil, "", ErrorOf(err)
	}
	out := make([]neighbour, 0, len(page.Memories))
	for _, m := range page.Memories {
		out = append(out, neighbour{m: m, cos: capture.Cosine(vec, m.Vector), known: len(m.Vector) > 0})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].cos > out[j].cos })
	if len(out) > neighbours {
		out = out[:neighbours]
	}
	return out, warning, nil
}
