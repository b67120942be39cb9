package lifecycle

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func days(n float64) time.Duration { return time.Duration(n * float64(24*time.Hour)) }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// The half-life is a half-life: at HLeff every tier's recency is exactly
// 1/2, whatever its β; importance stretches it by exp(1.5·I), a dynamic
// memory has a third of it.
func TestHalfLifeHalves(t *testing.T) {
	c := Defaults()
	for _, tier := range []Tier{Core, Working, Peripheral} {
		for _, imp := range []float64{0, 0.3, 0.7, 1} {
			for _, dyn := range []bool{false, true} {
				in := Input{Importance: imp, Tier: tier, CreatedAt: t0.UnixMilli(), Dynamic: dyn}
				hl := 30 * math.Exp(1.5*imp)
				if dyn {
					hl /= 3
				}
				if got := c.HalfLifeOf(in); math.Abs(got.Hours()/24-hl) > 1e-6 {
					t.Fatalf("half-life %v, want %.4f days", got, hl)
				}
				if r := c.Recency(in, t0.Add(days(hl))); math.Abs(r-0.5) > 1e-9 {
					t.Errorf("tier %s importance %g dynamic %v: recency at the half-life %.12f, want 0.5", tier, imp, dyn, r)
				}
				if r := c.Recency(in, t0.Add(days(2*hl))); tier == Working && math.Abs(r-0.25) > 1e-9 {
					t.Errorf("working, two half-lives: %.12f, want 0.25", r)
				}
			}
		}
	}
}

// Hand-computed values of each figure.
func TestScoresByHand(t *testing.T) {
	c := Defaults()
	// Importance 0.5, confidence 0.8, working, 4 uses over 31 days, 10 days
	// after the last use.
	created := t0
	last := t0.Add(days(31))
	in := Input{Importance: 0.5, Confidence: 0.8, Tier: Working, AccessCount: 4, CreatedAt: created.UnixMilli(), LastAccessedAt: last.UnixMilli()}
	now := last.Add(days(10))
	hl := 30 * math.Exp(0.75)                // 63.5100 days
	wantR := math.Exp(-math.Ln2 * (10 / hl)) // β = 1
	wantF := (1 - math.Exp(-0.8)) * (0.5 + 0.5*math.Exp(-(31.0/3)/30))
	wantI := 0.4
	s := c.Score(in, now)
	if !near(s.Recency, wantR) || !near(s.Frequency, wantF) || !near(s.Intrinsic, wantI) {
		t.Fatalf("scores %+v, want r %.6f f %.6f i %.6f", s, wantR, wantF, wantI)
	}
	if want := 0.4*wantR + 0.3*wantF + 0.3*wantI; !near(s.Composite, want) {
		t.Fatalf("composite %.9f, want %.9f", s.Composite, want)
	}
	// The multiplier: 0.3 + 0.7·max(0.7, composite, recency).
	if want := 0.3 + 0.7*max(0.7, s.Composite, s.Recency); !near(c.SearchMultiplier(in, now), want) {
		t.Fatalf("multiplier %.9f, want %.9f", c.SearchMultiplier(in, now), want)
	}
	// Peripheral, β 1.3, never used: recency counts from creation.
	p := Input{Importance: 0, Confidence: 0.7, Tier: Peripheral, CreatedAt: created.UnixMilli()}
	if want := math.Exp(-math.Ln2 * math.Pow(45.0/30, 1.3)); !near(c.Recency(p, created.Add(days(45))), want) {
		t.Fatalf("peripheral recency %.9f, want %.9f", c.Recency(p, created.Add(days(45))), want)
	}
	// One use, a day after creation: damped by a one-day gap.
	one := Input{AccessCount: 1, CreatedAt: t0.UnixMilli(), LastAccessedAt: t0.Add(days(1)).UnixMilli()}
	if got, want := c.Frequency(one), (1-math.Exp(-0.2))*(0.5+0.5*math.Exp(-1.0/30)); !near(got, want) {
		t.Fatalf("frequency of one use %.9f, want %.9f", got, want)
	}
}

// Properties over random memories: older never scores higher, more use
// never scores lower, core ≥ working ≥ peripheral for the same history,
// and the multiplier stays in [MinBoost, 1].
func TestProperties(t *testing.T) {
	c := Defaults()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		created := t0.Add(-days(rng.Float64() * 400))
		in := Input{Importance: rng.Float64(), Confidence: rng.Float64(), Tier: []Tier{Core, Working, Peripheral}[rng.IntN(3)],
			AccessCount: rng.IntN(30), CreatedAt: created.UnixMilli(), Dynamic: rng.IntN(4) == 0}
		if in.AccessCount > 0 {
			in.LastAccessedAt = created.Add(days(rng.Float64() * 300)).UnixMilli()
		}
		now := time.UnixMilli(max(in.CreatedAt, in.LastAccessedAt)).Add(days(rng.Float64() * 200))
		later := now.Add(days(rng.Float64()*100 + 0.01))
		if c.Recency(in, later) > c.Recency(in, now) || c.SearchMultiplier(in, later) > c.SearchMultiplier(in, now)+1e-12 {
			t.Fatalf("older scores higher: %+v", in)
		}
		more := in
		more.AccessCount++
		if c.Frequency(more) < c.Frequency(in)-1e-12 {
			t.Fatalf("one more use lowers frequency: %+v (%.6f < %.6f)", in, c.Frequency(more), c.Frequency(in))
		}
		tiers := map[Tier]float64{}
		for _, tier := range []Tier{Core, Working, Peripheral} {
			x := in
			x.Tier = tier
			tiers[tier] = c.SearchMultiplier(x, now)
		}
		if tiers[Core] < tiers[Working]-1e-12 || tiers[Working] < tiers[Peripheral]-1e-12 {
			t.Fatalf("tier order broken for %+v: %v", in, tiers)
		}
		if m := c.SearchMultiplier(in, now); m < c.MinBoost || m > 1 {
			t.Fatalf("multiplier %.4f out of range", m)
		}
	}
}

// Each threshold of the tier moves, on both sides.
func TestTransitions(t *testing.T) {
	c := Defaults()
	now := t0.Add(days(100))
	recent := now.Add(-time.Hour).UnixMilli()
	for _, tc := range []struct {
		name string
		in   Input
		want Tier
		why  string
	}{
		{"peripheral used enough", Input{Tier: Peripheral, AccessCount: 3, Importance: 0.8, Confidence: 1, CreatedAt: t0.UnixMilli(), LastAccessedAt: recent}, Working, "recalled 3 times"},
		{"peripheral used twice", Input{Tier: Peripheral, AccessCount: 2, Importance: 0.8, Confidence: 1, CreatedAt: t0.UnixMilli(), LastAccessedAt: recent}, Peripheral, ""},
		{"working to core", Input{Tier: Working, AccessCount: 10, Importance: 0.9, Confidence: 1, CreatedAt: now.Add(-days(20)).UnixMilli(), LastAccessedAt: recent}, Core, "importance 0.90"},
		{"working, importance short of core", Input{Tier: Working, AccessCount: 10, Importance: 0.79, Confidence: 1, CreatedAt: now.Add(-days(20)).UnixMilli(), LastAccessedAt: recent}, Working, ""},
		{"working, old and unused", Input{Tier: Working, AccessCount: 2, Importance: 0.9, Confidence: 1, CreatedAt: now.Add(-days(61)).UnixMilli(), LastAccessedAt: recent}, Peripheral, "61 days old"},
		{"working, old but used", Input{Tier: Working, AccessCount: 3, Importance: 0.9, Confidence: 1, CreatedAt: now.Add(-days(61)).UnixMilli(), LastAccessedAt: recent}, Working, ""},
		{"working, composite faded", Input{Tier: Working, Importance: 0, Confidence: 0, CreatedAt: now.Add(-days(59)).UnixMilli()}, Peripheral, "composite"},
		{"core faded and unused", Input{Tier: Core, Importance: 0, Confidence: 0, CreatedAt: now.Add(-days(400)).UnixMilli()}, Working, "composite"},
		{"core faded but used", Input{Tier: Core, AccessCount: 3, Importance: 0, Confidence: 0, CreatedAt: now.Add(-days(400)).UnixMilli(), LastAccessedAt: now.Add(-days(399)).UnixMilli()}, Core, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to, why, moved := c.Transition(tc.in, c.Score(tc.in, now), now)
			if to != tc.want || moved != (tc.want != tc.in.Tier) || !strings.Contains(why, tc.why) {
				t.Fatalf("→ %s (%v) %q, want %s with %q; scores %+v", to, moved, why, tc.want, tc.why, c.Score(tc.in, now))
			}
		})
	}
}

// 180 simulated days of one memory recalled daily for a month, then left
// alone: it climbs to core, and falls back once unused, every step by the
// thresholds; recall's multiplier follows.
func TestSimulatedHalfYear(t *testing.T) {
	c := Defaults()
	in := Input{Tier: Peripheral, Importance: 0.9, Confidence: 0.9, CreatedAt: t0.UnixMilli()}
	var path []Tier
	var multAtDay30, multAtDay180 float64
	for d := 1; d <= 180; d++ {
		now := t0.Add(days(float64(d)))
		if d <= 30 {
			in.AccessCount++
			in.LastAccessedAt = now.UnixMilli()
		}
		s := c.Score(in, now)
		if to, _, ok := c.Transition(in, s, now); ok {
			in.Tier = to
			path = append(path, to)
		}
		switch d {
		case 30:
			multAtDay30 = c.SearchMultiplier(in, now)
		case 180:
			multAtDay180 = c.SearchMultiplier(in, now)
		}
	}
	if len(path) < 2 || path[0] != Working || path[1] != Core {
		t.Fatalf("tier path %v, want working then core first", path)
	}
	if multAtDay180 >= multAtDay30 {
		t.Fatalf("multiplier after months unused %.3f ≥ while in use %.3f", multAtDay180, multAtDay30)
	}
}

func TestFromMemory(t *testing.T) {
	m := memory.Memory{Importance: 0.8, CreatedAt: 1000, Metadata: map[string]any{
		memory.KeyTier: "core", memory.KeyAccessCount: 4.0, memory.KeyLastAccessedAt: 5000.0,
		memory.KeyConfidence: 0.9, KeyTemporalType: "dynamic"}}
	got := FromMemory(m)
	want := Input{Importance: 0.8, Confidence: 0.9, Tier: Core, AccessCount: 4, CreatedAt: 1000, LastAccessedAt: 5000, Dynamic: true}
	if got != want {
		t.Fatalf("%+v, want %+v", got, want)
	}
	legacy := FromMemory(memory.Memory{Importance: 2, CreatedAt: 7})
	if legacy != (Input{Importance: 1, Confidence: DefaultConfidence, Tier: Working, CreatedAt: 7}) {
		t.Fatalf("legacy row: %+v", legacy)
	}
}

func TestValidate(t *testing.T) {
	if err := Defaults().Validate(); err != nil {
		t.Fatal(err)
	}
	c := Defaults()
	c.RecencyWeight = 0.5
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "add up to 1") {
		t.Fatalf("weights: %v", err)
	}
	c = Defaults()
	c.BetaCore = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "betaCore") {
		t.Fatalf("beta: %v", err)
	}
}
