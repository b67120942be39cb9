package config

import (
	"time"

	"github.com/trove-memory/trove/internal/lifecycle"
)

// Lifecycle holds the constants of decay and tiers (docs/LIFECYCLE.md has
// the formulas). Times are in days.
type Lifecycle struct {
	HalfLifeDays         float64 `json:"halfLifeDays"`
	ImportanceModulation float64 `json:"importanceModulation"`
	BetaCore             float64 `json:"betaCore"`
	BetaWorking          float64 `json:"betaWorking"`
	BetaPeripheral       float64 `json:"betaPeripheral"`
	RecencyWeight        float64 `json:"recencyWeight"`
	FrequencyWeight      float64 `json:"frequencyWeight"`
	IntrinsicWeight      float64 `json:"intrinsicWeight"`
	MinBoost             float64 `json:"minBoost"`
	FloorCore            float64 `json:"floorCore"`
	FloorWorking         float64 `json:"floorWorking"`
	FloorPeripheral      float64 `json:"floorPeripheral"`
	WorkingAccess        int     `json:"workingAccess"`
	WorkingComposite     float64 `json:"workingComposite"`
	CoreAccess           int     `json:"coreAccess"`
	CoreComposite        float64 `json:"coreComposite"`
	CoreImportance       float64 `json:"coreImportance"`
	DemoteComposite      float64 `json:"demoteComposite"`
	DemoteAgeDays        float64 `json:"demoteAgeDays"`
}

const dayDuration = 24 * time.Hour

func lifecycleDefaults() Lifecycle {
	d := lifecycle.Defaults()
	return Lifecycle{
		HalfLifeDays: d.HalfLife.Hours() / 24, ImportanceModulation: d.Modulation,
		BetaCore: d.BetaCore, BetaWorking: d.BetaWorking, BetaPeripheral: d.BetaPeripheral,
		RecencyWeight: d.RecencyWeight, FrequencyWeight: d.FrequencyWeight, IntrinsicWeight: d.IntrinsicWeight,
		MinBoost: d.MinBoost, FloorCore: d.FloorCore, FloorWorking: d.FloorWorking, FloorPeripheral: d.FloorPeripheral,
		WorkingAccess: d.WorkingAccess, WorkingComposite: d.WorkingComposite,
		CoreAccess: d.CoreAccess, CoreComposite: d.CoreComposite, CoreImportance: d.CoreImportance,
		DemoteComposite: d.DemoteComposite, DemoteAgeDays: d.DemoteAge.Hours() / 24,
	}
}

// Engine is the lifecycle these settings describe.
func (l Lifecycle) Engine() lifecycle.Config {
	return lifecycle.Config{
		HalfLife: time.Duration(l.HalfLifeDays * float64(dayDuration)), Modulation: l.ImportanceModulation,
		BetaCore: l.BetaCore, BetaWorking: l.BetaWorking, BetaPeripheral: l.BetaPeripheral,
		RecencyWeight: l.RecencyWeight, FrequencyWeight: l.FrequencyWeight, IntrinsicWeight: l.IntrinsicWeight,
		MinBoost: l.MinBoost, FloorCore: l.FloorCore, FloorWorking: l.FloorWorking, FloorPeripheral: l.FloorPeripheral,
		WorkingAccess: l.WorkingAccess, WorkingComposite: l.WorkingComposite,
		CoreAccess: l.CoreAccess, CoreComposite: l.CoreComposite, CoreImportance: l.CoreImportance,
		DemoteComposite: l.DemoteComposite, DemoteAge: time.Duration(l.DemoteAgeDays * float64(dayDuration)),
	}
}
