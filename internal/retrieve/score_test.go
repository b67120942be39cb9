package retrieve

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
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

func TestDecayByAge(t *testing.T) {
	for _, tc := range []struct {
		name    string
		created int64
		md      map[string]any
		want    float64 // factor
	}{
		{"new", daysAgo(0), nil, 1},
		{"half a half-life", daysAgo(30), nil, math.Sqrt(0.5)},
		{"one half-life", daysAgo(60), nil, 0.5},
		{"two half-lives: the floor", daysAgo(120), nil, 0.5},
		{"one access grows the half-life by ln 2", daysAgo(60), map[string]any{"access_count": float64(1)}, 0.6640592571111219},
		{"many accesses are capped at ×(1+3)", daysAgo(120), map[string]any{"access_count": float64(1000)}, math.Sqrt(0.5)},
		{"access_count as int", daysAgo(60), map[string]any{"access_count": 1}, 0.6640592571111219},
		{"negative access_count counts as 0", daysAgo(30), map[string]any{"access_count": -5.0}, math.Sqrt(0.5)},
		{"last_accessed_at (float64 ms) ages from the access", daysAgo(200), map[string]any{"last_accessed_at": float64(daysAgo(10))}, 0.8908987181403393},
		{"last_accessed_at as int64", daysAgo(200), map[string]any{"last_accessed_at": daysAgo(10)}, 0.8908987181403393},
		{"last_accessed_at as json.Number", daysAgo(200), map[string]any{"last_accessed_at": json.Number(jsonInt(daysAgo(10)))}, 0.8908987181403393},
		{"last_accessed_at as RFC 3339", daysAgo(200), map[string]any{"last_accessed_at": "2026-02-19T12:00:00Z"}, 0.8908987181403393},
		{"last_accessed_at before created_at (seconds, not ms) is ignored", daysAgo(30), map[string]any{"last_accessed_at": float64(daysAgo(10) / 1000)}, math.Sqrt(0.5)},
		{"last_accessed_at not a number or time is ignored", daysAgo(30), map[string]any{"last_accessed_at": "yesterday"}, math.Sqrt(0.5)},
		{"no timestamps: unchanged", 0, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mkCand("a", 0.8, nil, nil)
			c.mem.CreatedAt, c.mem.Metadata = tc.created, tc.md
			decayByAge([]*candidate{c}, testNow, 60*day, 0.5, 3, false)
			if !near(c.score, 0.8*tc.want) {
				t.Fatalf("score = %v, want %v (factor %v)", c.score, 0.8*tc.want, tc.want)
			}
		})
	}
}

// Metadata as the store hands it over: decoded JSON, so numbers are float64.
func TestDecayMetadataFromJSON(t *testing.T) {
	var md map[string]any
	raw := `{"access_count": 3, "last_accessed_at": ` + jsonInt(daysAgo(30)) + `}`
	if err := json.Unmarshal([]byte(raw), &md); err != nil {
		t.Fatal(err)
	}
	if _, ok := md["last_accessed_at"].(float64); !ok {
		t.Fatalf("last_accessed_at decoded as %T", md["last_accessed_at"])
	}
	c := mkCand("a", 1, nil, nil)
	c.mem.CreatedAt, c.mem.Metadata = daysAgo(400), md
	decayByAge([]*candidate{c}, testNow, 60*day, 0.5, 3, false)
	want := math.Exp2(-30 / (60 * (1 + math.Log(4)))) // 0.8648…
	if !near(c.score, want) || !near(want, 0.8648189900976544) {
		t.Fatalf("score = %v, want %v", c.score, want)
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
	// (0.6 + 0.1·½) · 0.85 / 1.5 · 2^(−14/60)
	want := (0.6 + 0.05) * 0.85 / 1.5 * 0.8506671609508557
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

// The minimum judges relevance before decay: a year-old memory found with
// cosine 0.8 is kept, ranked lower, not dropped.
func TestApplyScoringMinimumBeforeDecay(t *testing.T) {
	opts := Options{Now: func() time.Time { return testNow }}
	c := mkCand("old", 0.7/1.2, f64p(0.8), nil) // fused, vector only, cos 0.8
	c.mem.CreatedAt, c.mem.Importance, c.mem.Text = daysAgo(365), 0.7, "my name is Bob"
	applyScoring([]*candidate{c}, opts, false)
	if c.drop != "" {
		t.Fatalf("dropped: %s", c.drop)
	}
	pre := (0.7/1.2 + 0.1*math.Exp2(-365.0/14)) * 0.91
	if !near(c.score, pre*0.5) || c.score >= 0.3 {
		t.Fatalf("score %v, want %v (below MinScore, kept)", c.score, pre*0.5)
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
