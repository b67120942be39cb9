package retrieve

import (
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/trove-memory/trove/internal/lifecycle"
)

// applyScoring runs the scoring stages over the fused (and reranked)
// candidates, in this order, each skipped by its Disable flag:
//
//  1. recency boost     score += RecencyWeight·2^(−age/RecencyHalfLife)
//  2. importance        score ·= 1 − w + w·importance
//  3. length            score ·= 1/(1 + 0.5·log2(runes/anchor)) above the anchor
//  4. minimum           drop when score < MinScore
//  5. lifecycle decay   score ·= lifecycle SearchMultiplier (recency, use, tier; see internal/lifecycle)
//
// The minimum comes before decay, as in memory-lancedb-pro: MinScore judges
// relevance, decay only orders. The other way round, every memory older
// than a few half-lives would need a high relevance to survive, so a
// year-old "my name is Bob" found with cosine 0.8 (fused 0.583, ×0.91 for
// importance 0.7: 0.531, then ×0.79 for a working memory long unused)
// would vanish from a long-term memory. As a consequence a returned score
// can be below MinScore.
//
// The current time is read once from o.Now, so every candidate is aged
// against the same instant.
func applyScoring(cs []*candidate, o Options, debug bool) {
	o = o.withDefaults()
	now := o.Now()
	scoreRelevance(cs, o, now, debug)
	applyDecay(cs, o, now, debug)
}

// scoreRelevance is applyScoring's stages 1 to 4; o has its defaults.
func scoreRelevance(cs []*candidate, o Options, now time.Time, debug bool) {
	if !o.DisableRecency {
		boostRecency(cs, now, o.RecencyHalfLife, o.RecencyWeight, debug)
	}
	if !o.DisableImportance {
		weighImportance(cs, o.ImportanceWeight, debug)
	}
	if !o.DisableLength {
		normaliseLength(cs, o.LengthAnchor, debug)
	}
	dropBelowMinimum(cs, o.MinScore)
}

// applyDecay is applyScoring's stage 5; o has its defaults.
func applyDecay(cs []*candidate, o Options, now time.Time, debug bool) {
	if !o.DisableDecay {
		decayByLifecycle(cs, now, *o.Lifecycle, debug)
	}
}

// boostRecency adds weight·2^(−age/halfLife) to each score (a memory
// created now gains weight, one created halfLife ago weight/2), so that of
// two equally relevant memories the newer, which is likely the correction,
// ranks first. Age counts from created_at, not updated_at: updated_at moves
// on every write to the row, including the ones that do not change what it
// says (access counters, smart-upgrade enrichment, re-scoping), so it would
// make an old memory look new each time it is recalled or upgraded; a
// corrected statement is a new memory with its own created_at. A row
// without created_at gains nothing; one dated in the future counts as age 0.
// The boost is not clamped to 1: scores rank, and clamping would tie the
// best candidates. Records stage "recency".
func boostRecency(cs []*candidate, now time.Time, halfLife time.Duration, weight float64, debug bool) {
	if halfLife <= 0 {
		return
	}
	for _, c := range cs {
		if c.drop != "" {
			continue
		}
		if age, ok := ageMillis(now, float64(c.mem.CreatedAt)); ok {
			c.score += weight * math.Exp2(-age/float64(halfLife.Milliseconds()))
		}
		c.stage(debug, "recency")
	}
}

// weighImportance multiplies each score by 1 − w + w·importance: with the
// default w = 0.3, importance 1 keeps the score, 0.5 gives ×0.85, 0 gives
// ×0.7. Importance is clamped to [0, 1]. Records stage "importance".
func weighImportance(cs []*candidate, w float64, debug bool) {
	for _, c := range cs {
		if c.drop != "" {
			continue
		}
		if imp := c.mem.Importance; !math.IsNaN(imp) {
			c.score *= 1 - w + w*min(1, max(0, imp))
		}
		c.stage(debug, "importance")
	}
}

// normaliseLength divides the score of a text longer than anchor runes by
// 1 + 0.5·log2(runes/anchor): 2·anchor gives ×0.667, 4·anchor ×0.5. A long
// text matches many queries a little by sheer coverage; this keeps it from
// crowding out short, focused memories. Shorter texts are not boosted.
// Length counts runes so that CJK text is not penalised for its UTF-8 size.
// Records stage "length".
func normaliseLength(cs []*candidate, anchor int, debug bool) {
	if anchor <= 0 {
		return
	}
	for _, c := range cs {
		if c.drop != "" {
			continue
		}
		if n := utf8.RuneCountInString(c.mem.Text); n > anchor {
			c.score /= 1 + 0.5*math.Log2(float64(n)/float64(anchor))
		}
		c.stage(debug, "length")
	}
}

// decayByLifecycle multiplies each score by the memory's lifecycle
// multiplier, clamp(0.3 + 0.7·max(tier floor, composite, recency), 0.3, 1)
// by default: a memory in use, new, or established in the core tier keeps
// most of its score; one long unused fades to the floor of its tier. A row
// without created_at is left alone. Records stage "decay".
func decayByLifecycle(cs []*candidate, now time.Time, lc lifecycle.Config, debug bool) {
	for _, c := range cs {
		if c.drop != "" {
			continue
		}
		if c.mem.CreatedAt > 0 {
			m := lc.SearchMultiplier(lifecycle.FromMemory(c.mem), now)
			c.score *= m
			c.lifecycle = &m
		}
		c.stage(debug, "decay")
	}
}

// dropBelowMinimum drops every candidate scoring under minScore, saying by
// how much.
func dropBelowMinimum(cs []*candidate, minScore float64) {
	for _, c := range cs {
		if c.drop == "" && c.score < minScore {
			s, m := fmt.Sprintf("%.2f", c.score), fmt.Sprintf("%.2f", minScore)
			if s == m { // 0.2996 is not "0.30 below the minimum 0.30"
				s, m = fmt.Sprintf("%.4f", c.score), fmt.Sprintf("%.4f", minScore)
			}
			c.drop = fmt.Sprintf("score %s below the minimum %s", s, m)
		}
	}
}

// ageMillis returns now − ms in milliseconds, 0 for a time in the future,
// and false when ms is not a time (≤ 0, NaN).
func ageMillis(now time.Time, ms float64) (float64, bool) {
	if !(ms > 0) || math.IsInf(ms, 0) {
		return 0, false
	}
	return max(0, float64(now.UnixMilli())-ms), true
}
