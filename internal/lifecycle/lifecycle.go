// Package lifecycle is how a memory ages: a Weibull recency with a true
// half-life, a frequency that saturates with use, an intrinsic value, the
// composite of the three, the multiplier recall applies, and the tier
// moves (peripheral, working, core) the composite drives. It is pure: the
// caller passes the time, so a year of ageing is tested without sleeping.
// docs/LIFECYCLE.md has the formulas and the reasons for each constant.
//
//	in := lifecycle.FromMemory(m)
//	s := cfg.Score(in, now)            // recency, frequency, intrinsic, composite
//	score *= cfg.SearchMultiplier(in, now)
//	if to, why, ok := cfg.Transition(in, s, now); ok { ... }
package lifecycle

import (
	"fmt"
	"math"
	"time"

	"github.com/trove-memory/trove/internal/memory"
)

// Tier is how established a memory is: core memories decay slowly and are
// kept high in recall, peripheral ones fade fast.
type Tier string

const (
	Core       Tier = "core"
	Working    Tier = "working"
	Peripheral Tier = "peripheral"
)

// ParseTier reads a tier; anything else (legacy rows have none) is working,
// the tier every memory starts in.
func ParseTier(s string) Tier {
	switch Tier(s) {
	case Core, Peripheral:
		return Tier(s)
	}
	return Working
}

// Config holds every constant of the lifecycle. The zero value is not
// useful: start from Defaults.
type Config struct {
	// HalfLife is the recency half-life of a memory of importance 0 in the
	// working tier (β = 1); importance stretches it by exp(Modulation·I)
	// and a dynamic memory has a third of it.
	HalfLife   time.Duration `json:"halfLife"`
	Modulation float64       `json:"importanceModulation"`
	// Weibull shape per tier: < 1 decays fast at first then slowly (core),
	// > 1 holds then falls (peripheral). At age = half-life every β gives
	// exactly 1/2.
	BetaCore, BetaWorking, BetaPeripheral float64
	// Composite weights: recency, frequency, intrinsic (importance·confidence).
	RecencyWeight, FrequencyWeight, IntrinsicWeight float64
	// Recall multiplies a score by clamp(MinBoost + (1−MinBoost)·max(floor,
	// composite, recency), MinBoost, 1), with a floor per tier.
	MinBoost                                 float64
	FloorCore, FloorWorking, FloorPeripheral float64
	// Tier moves (memory-lancedb-pro's thresholds).
	WorkingAccess    int     // peripheral→working: access count at least
	WorkingComposite float64 // … and composite at least
	CoreAccess       int     // working→core: access count at least
	CoreComposite    float64 // … composite at least
	CoreImportance   float64 // … importance at least
	DemoteComposite  float64 // working→peripheral, core→working: composite below
	DemoteAge        time.Duration
}

// Defaults are memory-lancedb-pro's constants, with a recency that is a
// real half-life.
func Defaults() Config {
	return Config{
		HalfLife: 30 * 24 * time.Hour, Modulation: 1.5,
		BetaCore: 0.8, BetaWorking: 1.0, BetaPeripheral: 1.3,
		RecencyWeight: 0.4, FrequencyWeight: 0.3, IntrinsicWeight: 0.3,
		MinBoost:  0.3,
		FloorCore: 0.9, FloorWorking: 0.7, FloorPeripheral: 0.5,
		WorkingAccess: 3, WorkingComposite: 0.4,
		CoreAccess: 10, CoreComposite: 0.7, CoreImportance: 0.8,
		DemoteComposite: 0.15, DemoteAge: 60 * 24 * time.Hour,
	}
}

// Validate names the first constant out of its range.
func (c Config) Validate() error {
	checks := []struct {
		name   string
		v      float64
		lo, hi float64
	}{
		{"halfLife (days)", c.HalfLife.Hours() / 24, 0.01, 36500},
		{"importanceModulation", c.Modulation, 0, 10},
		{"betaCore", c.BetaCore, 0.1, 5}, {"betaWorking", c.BetaWorking, 0.1, 5}, {"betaPeripheral", c.BetaPeripheral, 0.1, 5},
		{"recencyWeight", c.RecencyWeight, 0, 1}, {"frequencyWeight", c.FrequencyWeight, 0, 1}, {"intrinsicWeight", c.IntrinsicWeight, 0, 1},
		{"minBoost", c.MinBoost, 0, 1},
		{"floorCore", c.FloorCore, 0, 1}, {"floorWorking", c.FloorWorking, 0, 1}, {"floorPeripheral", c.FloorPeripheral, 0, 1},
		{"workingComposite", c.WorkingComposite, 0, 1}, {"coreComposite", c.CoreComposite, 0, 1},
		{"coreImportance", c.CoreImportance, 0, 1}, {"demoteComposite", c.DemoteComposite, 0, 1},
		{"demoteAge (days)", c.DemoteAge.Hours() / 24, 0, 36500},
	}
	for _, ch := range checks {
		if math.IsNaN(ch.v) || ch.v < ch.lo || ch.v > ch.hi {
			return fmt.Errorf("lifecycle.%s: %g is out of range: use %g to %g", ch.name, ch.v, ch.lo, ch.hi)
		}
	}
	if w := c.RecencyWeight + c.FrequencyWeight + c.IntrinsicWeight; math.Abs(w-1) > 1e-9 {
		return fmt.Errorf("lifecycle: recencyWeight + frequencyWeight + intrinsicWeight is %g: they must add up to 1", w)
	}
	if c.WorkingAccess < 0 || c.CoreAccess < 0 {
		return fmt.Errorf("lifecycle: workingAccess and coreAccess must not be negative")
	}
	return nil
}

// Input is what ageing reads of a memory.
type Input struct {
	Importance     float64 // [0,1]
	Confidence     float64 // [0,1]
	Tier           Tier
	AccessCount    int
	CreatedAt      int64 // unix ms
	LastAccessedAt int64 // unix ms; 0 when never recalled
	Dynamic        bool  // temporal_type "dynamic": a fact about now (this week's plan)
}

// KeyTemporalType is the metadata key that marks a memory static or dynamic.
const KeyTemporalType = "temporal_type"

// DefaultConfidence is the confidence of a memory that records none.
const DefaultConfidence = 0.7

// FromMemory reads the inputs from a row: tier, access_count,
// last_accessed_at, confidence and temporal_type from its metadata (legacy
// rows have none of them: working, 0, never, 0.7, static).
func FromMemory(m memory.Memory) Input {
	in := Input{Importance: clamp01(m.Importance), Confidence: DefaultConfidence, CreatedAt: m.CreatedAt, Tier: Working}
	if s, ok := m.Metadata[memory.KeyTier].(string); ok {
		in.Tier = ParseTier(s)
	}
	if n, ok := memory.MetaNumber(m.Metadata, memory.KeyAccessCount); ok && n > 0 {
		in.AccessCount = int(min(n, math.MaxInt32))
	}
	if t, ok := memory.MetaMillis(m.Metadata, memory.KeyLastAccessedAt); ok && t > 0 {
		in.LastAccessedAt = int64(t)
	}
	if c, ok := memory.MetaNumber(m.Metadata, memory.KeyConfidence); ok {
		in.Confidence = clamp01(c)
	}
	if s, _ := m.Metadata[KeyTemporalType].(string); s == "dynamic" {
		in.Dynamic = true
	}
	return in
}

// Scores are a memory's ageing figures at one instant, each in [0,1].
type Scores struct {
	Recency   float64 `json:"recency"`
	Frequency float64 `json:"frequency"`
	Intrinsic float64 `json:"intrinsic"`
	Composite float64 `json:"composite"`
}

const day = float64(24 * time.Hour / time.Millisecond)

// lastActive is when the memory was last in use: its last recall, else its
// creation.
func lastActive(in Input) int64 {
	if in.AccessCount > 0 && in.LastAccessedAt > in.CreatedAt {
		return in.LastAccessedAt
	}
	return in.CreatedAt
}

func (c Config) floor(t Tier) float64 {
	switch t {
	case Core:
		return c.FloorCore
	case Peripheral:
		return c.FloorPeripheral
	}
	return c.FloorWorking
}

// HalfLifeOf is the memory's effective half-life: HalfLife·exp(Modulation·I),
// a third of it for a dynamic memory.
func (c Config) HalfLifeOf(in Input) time.Duration {
	hl := float64(c.HalfLife) * math.Exp(c.Modulation*clamp01(in.Importance))
	if in.Dynamic {
		hl /= 3
	}
	return time.Duration(hl)
}

// Recency is exp(−ln2·(days/HLeff)^β): 1 when just used, exactly 1/2 at
// the effective half-life whatever the tier's β. (memory-lancedb-pro
// computes exp(−(ln2/HL)·days^β), whose half-life is HL^(1/β), not HL.)
//
// A Weibull curve with β < 1 falls faster than the exponential before the
// half-life and slower after it (β > 1 the other way round), so on its own
// a fresh core memory would rank below a fresh peripheral one. A tier's
// shape is meant for the long tail: core never scores below what the
// working curve gives, peripheral never above it. So for the same history
// core ≥ working ≥ peripheral at every age, and the half-life stays exact.
func (c Config) Recency(in Input, now time.Time) float64 {
	days := max(0, float64(now.UnixMilli()-lastActive(in))/day)
	hl := float64(c.HalfLifeOf(in)) / float64(24*time.Hour)
	if hl <= 0 {
		return 0
	}
	weibull := func(beta float64) float64 { return math.Exp(-math.Ln2 * math.Pow(days/hl, beta)) }
	working := weibull(c.BetaWorking)
	switch in.Tier {
	case Core:
		return max(weibull(c.BetaCore), working)
	case Peripheral:
		return min(weibull(c.BetaPeripheral), working)
	}
	return working
}

// Frequency is 1 − exp(−n/5), saturating with use, damped as
// memory-lancedb-pro does when the uses are far apart: multiplied by
// 0.5 + 0.5·exp(−meanGapDays/30), where the mean gap is the span from
// creation to the last access (at least a day) over max(n − 1, 1).
// memory-lancedb-pro leaves a single use undamped; then a second use a
// long time later would lower the figure, and more use must never score
// lower, so one use is damped by its distance from creation too.
func (c Config) Frequency(in Input) float64 {
	if in.AccessCount <= 0 {
		return 0
	}
	n := float64(in.AccessCount)
	base := 1 - math.Exp(-n/5)
	span := max(1, float64(lastActive(in)-in.CreatedAt)/day)
	gap := span / max(n-1, 1)
	return base * (0.5 + 0.5*math.Exp(-gap/30))
}

// Score computes all four figures at now.
func (c Config) Score(in Input, now time.Time) Scores {
	s := Scores{Recency: c.Recency(in, now), Frequency: c.Frequency(in), Intrinsic: clamp01(in.Importance) * clamp01(in.Confidence)}
	s.Composite = c.RecencyWeight*s.Recency + c.FrequencyWeight*s.Frequency + c.IntrinsicWeight*s.Intrinsic
	return s
}

// SearchMultiplier is what recall multiplies a memory's relevance by:
// clamp(MinBoost + (1−MinBoost)·max(tier floor, composite, recency),
// MinBoost, 1). The tier floor keeps an established memory high however
// long ago it was used; recency keeps a new memory (no uses yet, so a low
// frequency) from being penalised for being new.
func (c Config) SearchMultiplier(in Input, now time.Time) float64 {
	s := c.Score(in, now)
	m := c.MinBoost + (1-c.MinBoost)*max(c.floor(in.Tier), s.Composite, s.Recency)
	return min(1, max(c.MinBoost, m))
}

// Transition says whether the memory should move to another tier now, and
// why, by memory-lancedb-pro's thresholds:
//
//	peripheral → working  n ≥ WorkingAccess and composite ≥ WorkingComposite
//	working → core        n ≥ CoreAccess, composite ≥ CoreComposite, importance ≥ CoreImportance
//	working → peripheral  composite < DemoteComposite, or older than DemoteAge with n < WorkingAccess
//	core → working        composite < DemoteComposite and n < WorkingAccess
func (c Config) Transition(in Input, s Scores, now time.Time) (Tier, string, bool) {
	n := in.AccessCount
	age := time.Duration(max(0, now.UnixMilli()-in.CreatedAt)) * time.Millisecond
	switch in.Tier {
	case Peripheral:
		if n >= c.WorkingAccess && s.Composite >= c.WorkingComposite {
			return Working, fmt.Sprintf("recalled %d times (≥ %d) and composite %.2f ≥ %.2f", n, c.WorkingAccess, s.Composite, c.WorkingComposite), true
		}
	case Working:
		if n >= c.CoreAccess && s.Composite >= c.CoreComposite && in.Importance >= c.CoreImportance {
			return Core, fmt.Sprintf("recalled %d times (≥ %d), composite %.2f ≥ %.2f, importance %.2f ≥ %.2f",
				n, c.CoreAccess, s.Composite, c.CoreComposite, in.Importance, c.CoreImportance), true
		}
		if s.Composite < c.DemoteComposite {
			return Peripheral, fmt.Sprintf("composite %.2f < %.2f", s.Composite, c.DemoteComposite), true
		}
		if age > c.DemoteAge && n < c.WorkingAccess {
			return Peripheral, fmt.Sprintf("%.0f days old (> %.0f) and recalled only %d times (< %d)",
				age.Hours()/24, c.DemoteAge.Hours()/24, n, c.WorkingAccess), true
		}
	case Core:
		if s.Composite < c.DemoteComposite && n < c.WorkingAccess {
			return Working, fmt.Sprintf("composite %.2f < %.2f and recalled only %d times (< %d)", s.Composite, c.DemoteComposite, n, c.WorkingAccess), true
		}
	}
	return in.Tier, "", false
}

func clamp01(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return min(1, max(0, x))
}
