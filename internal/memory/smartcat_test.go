package memory

import (
	"strings"
	"testing"
)

// TestSmartCategoryFor states memory-lancedb-pro's mapping
// (reverseMapLegacyCategory at f6e63af) in its own table.
func TestSmartCategoryFor(t *testing.T) {
	for _, c := range []struct {
		format         Format
		cat            Category
		text, typ, mdc string
		want           SmartCategory
	}{
		{FormatLegacy, CategoryPreference, "likes tea", "", "", SmartPreferences},
		{FormatLegacy, CategoryEntity, "Acme is a customer", "", "", SmartEntities},
		{FormatLegacy, CategoryOther, "misc", "", "", SmartPatterns},
		{FormatLegacy, CategoryReflection, "lesson", "", "", SmartPatterns},
		{FormatLegacy, CategoryDecision, "we chose Go", "", "", SmartEvents},
		{FormatLegacy, CategoryDecision, "My name is Ann", "memory-reflection-mapped", "", SmartProfile},
		{FormatLegacy, CategoryDecision, "always run tests", "memory-reflection-mapped", "", SmartCases},
		{FormatLegacy, CategoryFact, "My name is Ann", "", "", SmartProfile},
		{FormatLegacy, CategoryFact, "I'm a nurse", "", "", SmartProfile},
		{FormatLegacy, CategoryFact, "i am from Oslo", "", "", SmartProfile},
		{FormatLegacy, CategoryFact, "her name is Bo", "", "", SmartProfile},
		{FormatLegacy, CategoryFact, "The DB runs Postgres", "", "", SmartCases},
		{FormatLegacy, CategoryFact, "enemy stuff", "", "", SmartCases},                        // \b before "my"
		{FormatLegacy, CategoryFact, "my  name", "", "", SmartCases},                           // "my " then a space: no \b
		{FormatLegacy, CategoryFact, "我是工程师", "", "", SmartCases},                              // JS \b is ASCII: CJK alone has no boundary
		{FormatLegacy, CategoryFact, "x我是y", "", "", SmartProfile},                             // ...between ASCII word characters it has
		{FormatLegacy, CategoryFact, "my cat " + strings.Repeat("a", 193), "", "", SmartCases}, // 200 units: too long
		{FormatLegacy, CategoryFact, "my cat " + strings.Repeat("a", 192), "", "", SmartProfile},
		{FormatLegacy, CategoryFact, "ſo my ſon", "", "", SmartCases}, // ſ is no ASCII word character
		{FormatLegacy, CategoryFact, "ſo my son", "", "", SmartProfile},
		{FormatSmart, CategoryFact, "The DB", "", "events", SmartEvents},
		{FormatSmart, CategoryFact, "The DB", "", " Preference ", SmartPreferences},
		{FormatSmart, CategoryFact, "The DB", "", "nonsense", SmartCases},
		{FormatLegacy, CategoryFact, "The DB", "", "events", SmartCases}, // legacy rows map; metadata is not read
	} {
		if got := SmartCategoryFor(c.format, c.cat, c.text, c.typ, c.mdc); got != c.want {
			t.Errorf("SmartCategoryFor(%d, %s, %q, %q, %q) = %s, want %s", c.format, c.cat, c.text, c.typ, c.mdc, got, c.want)
		}
	}
}
