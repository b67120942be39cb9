package extract

import (
	"fmt"
	"github.com/trove-memory/trove/internal/lazyre"
	"strings"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/memory"
)

// memory-lancedb-pro's category rules (src/memory-categories.ts and the
// decision handling of src/smart-extractor.ts), which a model's decision
// must obey whatever it says:
//
//	category      create skip merge       supersede  support/contextualize contradict
//	profile       -> merge into the stored profile row when one is offered, else create
//	preferences   yes    yes  yes         yes        yes                   yes; label "" or general -> supersede
//	entities      yes    yes  yes         yes        yes                   yes; label "" or general -> supersede
//	patterns      yes    yes  yes         -> create  yes                   yes
//	events, cases yes    yes  -> create   -> create  -> create             -> create

// ApplyRules enforces the category rules on a decision for c, whose
// offered rows were matches. A decision it changes says so in Reason. A
// match in another category than the candidate is kept: the model judges
// by content, and memory-lancedb-pro allows it.
func ApplyRules(d Decision, c Candidate, matches []memory.Memory) Decision {
	if c.Category != memory.SmartProfile {
		switch {
		case d.Kind == Create || (d.Kind == Skip && d.Match < 0):
			d.Match = -1
		case d.Match >= len(matches):
			return changed(d, Create, -1, fmt.Sprintf("row %d is not among the %d rows offered", d.Match+1, len(matches)))
		case d.Match < 0 && d.Kind != Skip:
			return changed(d, Create, -1, "no stored row named")
		}
	}
	switch c.Category {
	case memory.SmartProfile:
		// One profile row per scope, always merged into (memory-lancedb-pro
		// skips the dedup decision for profile altogether).
		if d.Kind == Merge && d.Match >= 0 && d.Match < len(matches) && isProfileRow(matches[d.Match]) {
			d.ContextLabel = ""
			return d
		}
		for i, m := range matches {
			if isProfileRow(m) {
				return changed(d, Merge, i, "profile facts always merge into the profile row")
			}
		}
		if d.Kind == Create {
			d.Match, d.ContextLabel = -1, ""
			return d
		}
		return changed(d, Create, -1, "profile facts merge only into a profile row, and none was offered")
	case memory.SmartEvents, memory.SmartCases:
		if d.Kind == Create || d.Kind == Skip {
			d.ContextLabel = ""
			return d
		}
		return changed(d, Create, -1, fmt.Sprintf("%s are append-only: only create or skip", c.Category))
	case memory.SmartPatterns:
		if d.Kind == Supersede {
			return changed(d, Create, -1, "only preferences and entities are versioned by supersede")
		}
	case memory.SmartPreferences, memory.SmartEntities:
		if d.Kind == Contradict && (d.ContextLabel == "" || d.ContextLabel == "general") {
			return changed(d, Supersede, d.Match, "a contradiction in every context replaces the fact")
		}
	}
	if d.Kind != Support && d.Kind != Contextualize && d.Kind != Contradict {
		d.ContextLabel = ""
	}
	return d
}

func changed(d Decision, k Kind, match int, why string) Decision {
	note := fmt.Sprintf("%s -> %s: %s", d.Kind, k, why)
	if d.Reason != "" {
		note = d.Reason + " (" + note + ")"
	}
	label := d.ContextLabel
	if k != Support && k != Contextualize && k != Contradict {
		label = ""
	}
	return Decision{Kind: k, Match: match, Reason: note, ContextLabel: label}
}

// Importance is the importance a new memory of category c gets.
func Importance(c memory.SmartCategory) float64 {
	switch c {
	case memory.SmartProfile:
		return 0.9
	case memory.SmartPreferences:
		return 0.8
	case memory.SmartEntities:
		return 0.7
	case memory.SmartEvents:
		return 0.6
	case memory.SmartCases:
		return 0.8
	case memory.SmartPatterns:
		return 0.85
	}
	return 0.7
}

// ProfileFactKey is the fact key of the profile row: trove keeps one
// merged profile row per scope and finds it through the fact-key index.
const ProfileFactKey = "profile"

var (
	factColon = lazyre.New(`^([^\n]{1,120}?)[：:]`)
	factArrow = lazyre.New(`^([^\n]{1,120}?)(?:\s*->|\s*=>)`)
	spaces    = lazyre.New(`\s+`)
	endPunct  = lazyre.New(`[。.!?]+$`)
)

// FactKey names the fact an abstract states, as memory-lancedb-pro's
// deriveFactKey does: for preferences and entities "<category>:<topic>",
// the topic being the text before the first ':' or '：' within 120
// characters (else before "->" or "=>", else the whole abstract),
// lowercased, white space collapsed, trailing 。.!? dropped:
//
//	FactKey(SmartEntities, "Home city: Paris")          // "entities:home city"
//	FactKey(SmartPreferences, "Preferred  Editor -> Zed") // "preferences:preferred editor"
//
// Rows with one fact key are values of one fact over time. FactKey is
// ProfileFactKey for profile and "" for events, cases and patterns.
func FactKey(c memory.SmartCategory, abstract string) string {
	switch c {
	case memory.SmartProfile:
		return ProfileFactKey
	case memory.SmartPreferences, memory.SmartEntities:
	default:
		return ""
	}
	topic := strings.TrimSpace(abstract)
	if topic == "" {
		return ""
	}
	if m := factColon.FindStringSubmatch(topic); m != nil {
		topic = m[1]
	} else if m := factArrow.FindStringSubmatch(topic); m != nil {
		topic = m[1]
	}
	topic = spaces.ReplaceAllString(strings.ToLower(topic), " ")
	topic = strings.TrimSpace(endPunct.ReplaceAllString(topic, ""))
	if topic == "" {
		return ""
	}
	return string(c) + ":" + topic
}

// FromRule turns a candidate of the rule-based extractor into the three
// levels: its category read from the storage category (as a legacy row
// of that category reads), the text as abstract and content, and one
// bullet as overview.
func FromRule(c capture.Candidate) Candidate {
	return Candidate{
		Category: memory.SmartCategoryFor(memory.FormatLegacy, c.Category, c.Text, "", ""),
		Abstract: c.Text,
		Overview: "- " + c.Text,
		Content:  c.Text,
		Rule:     c.Rule,
	}
}

// isProfileRow reports whether m is a scope's profile row: its memory
// category says so, or it holds the profile's fact key (the row capture
// keeps for it, whatever its format says).
func isProfileRow(m memory.Memory) bool {
	return memory.SmartCategoryOf(m) == memory.SmartProfile || memory.MetaString(m.Metadata, memory.KeyFactKey) == ProfileFactKey
}
