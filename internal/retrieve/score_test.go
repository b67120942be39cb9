package retrieve

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/lifecycle"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// daysAgo is the unix-ms time d days before testNow.
func daysAgo(d float64) int64 {
	return testNow.Add(-time.Duration(d * float64(day))).UnixMilli()
}

func TestBoostRecency(t *testing.T) {
	for _, tc := range []struct {
		name    string
		created int64
		want    float64
	}{
		{"created now: full weight", daysAgo(0), 0.5 + 0.1},
		{"one half-life: half", daysAgo(14), 0.5 + 0.05},
		{"two half-lives: a quarter", daysAgo(28), 0.5 + 0.025},
		{"in the future counts as now", daysAgo(-3), 0.5 + 0.1},
		{"no created_at: nothing", 0, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mkCand("a", 0.5, nil, nil)
			c.mem.CreatedAt = tc.created
			boostRecency([]*candidate{c}, testNow, 14*day, 0.1, false)
			if !near(c.score, tc.want) {
				t.Fatalf("score = %v, want %v", c.score, tc.want)
			}
		})
	}
}

func TestBoostRecencyIgnoresUpdatedAt(t *testing.T) {
	c := mkCand("a", 0.5, nil, nil)
	c.mem.CreatedAt, c.mem.UpdatedAt = daysAgo(14), daysAgo(0)
	boostRecency([]*candidate{c}, testNow, 14*day, 0.1, false)
	if !near(c.score, 0.55) {
		t.Fatalf("score = %v, want 0.55 (age from created_at)", c.score)
	}
}

func TestWeighImportance(t *testing.T) {
	for _, tc := range []struct{ imp, want float64 }{
		{1, 0.8},
		{0.5, 0.8 * 0.85},
		{0, 0.8 * 0.7},
		{1.5, 0.8}, // clamped
	} {
		c := mkCand("a", 0.8, nil, nil)
		c.mem.Importance = tc.imp
		weighImportance([]*candidate{c}, 0.3, false)
		if !near(c.score, tc.want) {
			t.Errorf("importance %v: score %v, want %v", tc.imp, c.score, tc.want)
		}
	}
}

func TestNormaliseLength(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want float64
	}{
		{"shorter than the anchor: unchanged, not boosted", strings.Repeat("a", 400), 0.6},
		{"at the anchor: unchanged", strings.Repeat("a", 500), 0.6},
		{"twice the anchor", strings.Repeat("a", 1000), 0.6 / 1.5},
		{"four times the anchor", strings.Repeat("a", 2000), 0.6 / 2},
		{"CJK counts runes, not bytes (1200 bytes)", strings.Repeat("记", 400), 0.6},
		{"CJK twice the anchor", strings.Repeat("记", 1000), 0.6 / 1.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mkCand("a", 0.6, nil, nil)
			c.mem.Text = tc.text
			normaliseLength([]*candidate{c}, 500, false)
			if !near(c.score, tc.want) {
				t.Fatalf("score = %v, want %v", c.score, tc.want)
			}
		})
	}
}

// The decay stage multiplies by the lifecycle's multiplier, reading the
// row's tier, importance and use from its metadata in every form the
// store hands over.
func TestDecayByLifecycle(t *testing.T) {
	lc := lifecycle.Defaults()
	// A working memory of importance 0.5 (half-life 30·e^0.75 days),
	// confidence 0.7, never recalled: multiplier 0.3 + 0.7·max(0.7, composite, r).
	hl := 30 * math.Exp(0.75)
	mult := func(r, f float64) float64 {
		return 0.3 + 0.7*max(0.7, 0.4*r+0.3*f+0.3*0.5*0.7, r)
	}
	r := func(d float64) float64 { return math.Exp(-math.Ln2 * d / hl) }
	for _, tc := range []struct {
		name    string
		created int64
		md      map[string]any
		want    float64 // factor
	}{
		{"new", daysAgo(0), nil, 1},
		{"at the half-life: the working floor", daysAgo(hl), nil, mult(0.5, 0)},
		{"a year unused: the working floor", daysAgo(365), nil, 0.3 + 0.7*0.7},
		{"core keeps its floor of 0.9", daysAgo(365), map[string]any{"tier": "core"}, 0.3 + 0.7*0.9},
		{"peripheral fades to 0.5", daysAgo(365), map[string]any{"tier": "peripheral"}, 0.3 + 0.7*0.5},
		{"last_accessed_at (float64 ms) ages from the access", daysAgo(200), map[string]any{"access_count": 1.0, "last_accessed_at": float64(daysAgo(1))}, mult(r(1), (1-math.Exp(-0.2))*(0.5+0.5*math.Exp(-199.0/30)))},
		{"last_accessed_at as int64", daysAgo(200), map[string]any{"access_count": 1, "last_accessed_at": daysAgo(1)}, mult(r(1), (1-math.Exp(-0.2))*(0.5+0.5*math.Exp(-199.0/30)))},
		{"last_accessed_at as json.Number", daysAgo(200), map[string]any{"access_count": json.Number("1"), "last_accessed_at": json.Number(jsonInt(daysAgo(1)))}, mult(r(1), (1-math.Exp(-0.2))*(0.5+0.5*math.Exp(-199.0/30)))},
		{"last_accessed_at without access_count is ignored", daysAgo(365), map[string]any{"last_accessed_at": float64(daysAgo(1))}, 0.3 + 0.7*0.7},
		{"no timestamps: unchanged", 0, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mkCand("a", 0.8, nil, nil)
			c.mem.CreatedAt, c.mem.Metadata, c.mem.Importance = tc.created, tc.md, 0.5
			decayByLifecycle([]*candidate{c}, testNow, lc, false)
			if !near(c.score, 0.8*tc.want) {
				t.Fatalf("score = %v, want %v (factor %v)", c.score, 0.8*tc.want, tc.want)
			}
		})
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestDropBelowMinimum(t *testing.T) {
	for _, tc := range []struct {
		score float64
		want  string
	}{
		{0.21, "score 0.21 below the minimum 0.30"},
		{0.2996, "score 0.2996 below the minimum 0.3000"},
		{0.3, ""},
		{0.9, ""},
	} {
		c := mkCand("a", tc.score, nil, nil)
		dropBelowMinimum([]*candidate{c}, 0.3)
		if c.drop != tc.want {
			t.Errorf("score %v: drop %q, want %q", tc.score, c.drop, tc.want)
		}
	}
	c := mkCand("a", 0.1, nil, nil)
	c.drop = "noise: greeting"
	dropBelowMinimum([]*candidate{c}, 0.3)
	if c.drop != "noise: greeting" {
		t.Errorf("first reason overwritten: %q", c.drop)
	}
}

func TestApplyScoring(t *testing.T) {
	opts := Options{Now: func() time.Time { return testNow }}
	c := mkCand("a", 0.6, nil, nil)
	c.mem.CreatedAt, c.mem.Importance, c.mem.Text = daysAgo(14), 0.5, strings.Repeat("x", 1000)
	applyScoring([]*candidate{c}, opts, true)
	// (0.6 + 0.1·½) · 0.85 / 1.5 · (0.3 + 0.7·r), r the 14-day recency of a
	// working memory of importance 0.5 (half-life 30·e^0.75 days), above
	// the floor and the composite.
	r := math.Exp(-math.Ln2 * 14 / (30 * math.Exp(0.75)))
	want := (0.6 + 0.05) * 0.85 / 1.5 * (0.3 + 0.7*r)
	if !near(c.score, want) || c.drop != "" {
		t.Fatalf("score %v (drop %q), want %v", c.score, c.drop, want)
	}
	var names []string
	for _, s := range c.trace {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "recency,importance,length,decay" {
		t.Fatalf("stages %s", got)
	}
	if !near(c.trace[1].Score, 0.5525) || !near(c.trace[3].Score, want) {
		t.Fatalf("trace scores %v", c.trace)
	}
}

func TestApplyScoringDisabled(t *testing.T) {
	opts := Options{
		Now:            func() time.Time { return testNow },
		DisableRecency: true, DisableImportance: true, DisableLength: true, DisableDecay: true,
	}
	keep, drop := mkCand("keep", 0.6, nil, nil), mkCand("drop", 0.2, nil, nil)
	for _, c := range []*candidate{keep, drop} {
		c.mem.CreatedAt, c.mem.Importance, c.mem.Text = daysAgo(400), 0, strings.Repeat("x", 5000)
	}
	applyScoring([]*candidate{keep, drop}, opts, true)
	if keep.score != 0.6 || keep.trace != nil || keep.drop != "" {
		t.Fatalf("disabled stages ran: score %v, trace %v, drop %q", keep.score, keep.trace, keep.drop)
	}
	if drop.drop != "score 0.20 below the minimum 0.30" {
		t.Fatalf("minimum not applied: drop %q", drop.drop)
	}
}

// The minimum judges relevance before decay: a year-old memory relevant
// enough is kept, ranked lower, not dropped, even when decay takes its
// score below the minimum.
func TestApplyScoringMinimumBeforeDecay(t *testing.T) {
	opts := Options{Now: func() time.Time { return testNow }}
	c := mkCand("old", 0.37, nil, nil)
	c.mem.CreatedAt, c.mem.Importance, c.mem.Text = daysAgo(365), 1, "my name is Bob"
	applyScoring([]*candidate{c}, opts, false)
	if c.drop != "" {
		t.Fatalf("dropped: %s", c.drop)
	}
	// Importance 1 keeps the score; a year unused leaves the working floor.
	want := (0.37 + 0.1*math.Exp2(-365.0/14)) * (0.3 + 0.7*0.7)
	if !near(c.score, want) || c.score >= 0.3 {
		t.Fatalf("score %v, want %v (below MinScore, kept)", c.score, want)
	}
}

func TestScoringSkipsDropped(t *testing.T) {
	c := mkCand("a", 0.5, nil, nil)
	c.mem.CreatedAt, c.mem.Text = daysAgo(1), strings.Repeat("x", 2000)
	c.drop = "earlier"
	applyScoring([]*candidate{c}, Options{Now: func() time.Time { return testNow }}, true)
	if c.score != 0.5 || c.trace != nil || c.drop != "earlier" {
		t.Fatalf("dropped candidate changed: %v %v %q", c.score, c.trace, c.drop)
	}
}

func TestScoringTraceOnlyWithDebug(t *testing.T) {
	c := mkCand("a", 0.6, nil, nil)
	c.mem.CreatedAt, c.mem.Importance = daysAgo(3), 0.5
	applyScoring([]*candidate{c}, Options{Now: func() time.Time { return testNow }}, false)
	if c.trace != nil {
		t.Fatalf("trace without debug: %v", c.trace)
	}
}
