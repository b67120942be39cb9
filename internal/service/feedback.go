package service

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// Auto-recall feedback, as memory-lancedb-pro tunes auto-recall: a host
// reports which injected memories its answer used. Every change here is
// bookkeeping (store.Tx.Bump): no revision, no history.
const (
	// DefaultSuppressTurns is how many turns of a session recall-context
	// waits before injecting a memory again (config autoRecall.suppressTurns).
	DefaultSuppressTurns = 8
	// UsedBoost is added to a used memory's importance (up to 1).
	UsedBoost = 0.05
	// BadRecallLimit unused injections suppress a memory from auto-recall
	// for SuppressFor and lower its importance by BadRecallPenalty (not
	// below BadRecallFloor); the count then starts again.
	BadRecallLimit   = 3
	SuppressFor      = 30 * time.Minute
	BadRecallPenalty = 0.03
	BadRecallFloor   = 0.1
	// MaxFeedbackIDs bounds each list of a feedback report.
	MaxFeedbackIDs = 50
)

// FeedbackInput reports which injected memories an answer used.
type FeedbackInput struct {
	Session string   `json:"session,omitempty" jsonschema:"the session recall-context injected into; without injected, the memories its last turn injected are the ones reported on"`
	Used    []string `json:"used,omitempty" jsonschema:"ids of injected memories the answer used"`
	// Injected defaults to what the session's last turn injected.
	Injected []string `json:"injected,omitempty" jsonschema:"ids of the memories that were injected (default: those the session's last recall-context turn injected)"`
}

// FeedbackOutput says what the feedback did.
type FeedbackOutput struct {
	Used       []string `json:"used" jsonschema:"memories whose importance and last_confirmed_use_at were raised"`
	Unused     []string `json:"unused" jsonschema:"injected memories the answer did not use (bad_recall_count counted)"`
	Suppressed []string `json:"suppressed,omitempty" jsonschema:"memories now left out of auto-recall for a while (unused too often)"`
	Ignored    []string `json:"ignored,omitempty" jsonschema:"ids not found among the memories you can reach"`
}

// Feedback applies a host's report on injected memories: each used one
// gains UsedBoost importance (at most 1) and its last_confirmed_use_at;
// each injected one not used counts a bad recall, and at BadRecallLimit
// is suppressed from auto-recall for SuppressFor and loses
// BadRecallPenalty importance (not below BadRecallFloor). All in one
// write, as bookkeeping: revisions and history are not touched.
func (s *Service) Feedback(ctx context.Context, c Caller, in FeedbackInput) (FeedbackOutput, error) {
	acc, err := s.access(c)
	if err != nil {
		return FeedbackOutput{}, err
	}
	in.Session = strings.TrimSpace(in.Session)
	switch {
	case len(in.Used) > MaxFeedbackIDs || len(in.Injected) > MaxFeedbackIDs:
		return FeedbackOutput{}, Invalid("at most %d ids per list: report one turn at a time", MaxFeedbackIDs)
	case in.Session == "" && len(in.Injected) == 0:
		return FeedbackOutput{}, Invalid("no injection named: give the session recall-context injected into, or the injected ids")
	case len(in.Session) > 256:
		return FeedbackOutput{}, Invalid("session is %d bytes, over the 256-byte limit", len(in.Session))
	}
	for _, id := range slices.Concat(in.Used, in.Injected) {
		if err := memory.ValidateID(id); err != nil {
			return FeedbackOutput{}, Invalid("id %q: %s", id, err.Error())
		}
	}
	now := s.opts.Clock()
	ms := now.UnixMilli()
	var out FeedbackOutput
	err = store.WriteAgain(ctx, s.opts.Store, acc, func(tx store.Tx) error {
		out = FeedbackOutput{Used: []string{}, Unused: []string{}}
		injected := in.Injected
		if len(injected) == 0 {
			itx, ok := tx.(store.InjectionTx)
			if !ok {
				return Unavailable("this store does not record injections: give the injected ids")
			}
			if _, injected, err = itx.LastTurn(in.Session, c.Agent); err != nil {
				return err
			}
		}
		ignore := func(id string, err error) error {
			if isNotFound(err) {
				if !slices.Contains(out.Ignored, id) {
					out.Ignored = append(out.Ignored, id)
				}
				return nil
			}
			return err
		}
		// The rows are locked in id order before they are bumped in the
		// caller's order: two hosts reporting on the same memories never
		// hold one row each while waiting for the other's.
		for _, id := range slices.Sorted(slices.Values(slices.Concat(in.Used, injected))) {
			if _, err := tx.Get(id); err != nil && !isNotFound(err) {
				return err
			}
		}
		used := map[string]bool{}
		for _, id := range in.Used {
			if used[id] {
				continue
			}
			used[id] = true
			err := tx.Bump(id, store.Bump{Importance: UsedBoost, Ceil: 1, Set: map[string]int64{memory.KeyLastConfirmedUseAt: ms}})
			if err != nil {
				if err := ignore(id, err); err != nil {
					return err
				}
				continue
			}
			out.Used = append(out.Used, id)
		}
		for _, id := range injected {
			if used[id] || slices.Contains(out.Unused, id) {
				continue
			}
			if err := tx.Bump(id, store.Bump{Add: map[string]int64{memory.KeyBadRecallCount: 1}}); err != nil {
				if err := ignore(id, err); err != nil {
					return err
				}
				continue
			}
			out.Unused = append(out.Unused, id)
			m, err := tx.Get(id)
			if err != nil {
				return err
			}
			if n, _ := memory.MetaNumber(m.Metadata, memory.KeyBadRecallCount); n < BadRecallLimit {
				continue
			}
			err = tx.Bump(id, store.Bump{Importance: -BadRecallPenalty, Floor: BadRecallFloor,
				Set: map[string]int64{memory.KeySuppressedUntil: now.Add(SuppressFor).UnixMilli(), memory.KeyBadRecallCount: 0}})
			if err != nil {
				return err
			}
			out.Suppressed = append(out.Suppressed, id)
		}
		return nil
	})
	if err != nil {
		return FeedbackOutput{}, ErrorOf(err)
	}
	return out, nil
}

// InjectionRetention is how long a session's injections are remembered:
// longer than any session's suppression window needs, short enough that
// the table stays small.
const InjectionRetention = 24 * time.Hour

// PruneInjectionsTask forgets sessions' injections older than keepFor, in
// bounded batches (store.InjectionPruner); a store without injections
// has nothing to prune.
func PruneInjectionsTask(st store.Store, keepFor time.Duration, now func() time.Time) Task {
	return Task{Name: "prune recall injections", Run: func(ctx context.Context) error {
		p, ok := st.(store.InjectionPruner)
		if !ok {
			return nil
		}
		_, err := p.PruneInjections(ctx, now().Add(-keepFor).UnixMilli(), 0)
		return err
	}}
}
