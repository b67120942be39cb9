package memory

import "strings"

// Category is the storage category of a memory.
type Category string

const (
	CategoryPreference Category = "preference"
	CategoryFact       Category = "fact"
	CategoryDecision   Category = "decision"
	CategoryEntity     Category = "entity"
	CategoryReflection Category = "reflection"
	CategoryOther      Category = "other"
)

// Categories lists every storage category in display order.
var Categories = []Category{CategoryPreference, CategoryFact, CategoryDecision, CategoryEntity, CategoryReflection, CategoryOther}

// ParseCategory accepts a storage category name (case-insensitive).
func ParseCategory(s string) (Category, error) {
	c := Category(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Categories {
		if c == k {
			return k, nil
		}
	}
	return "", Invalidf("category %q is unknown: use one of %s", s, categoryList())
}

func categoryList() string {
	names := make([]string, len(Categories))
	for i, c := range Categories {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}

// SmartCategory is the memory_category of a smart (format 1) row.
type SmartCategory string

const (
	SmartProfile     SmartCategory = "profile"
	SmartPreferences SmartCategory = "preferences"
	SmartEntities    SmartCategory = "entities"
	SmartEvents      SmartCategory = "events"
	SmartCases       SmartCategory = "cases"
	SmartPatterns    SmartCategory = "patterns"
)

// SmartCategories lists the six smart categories.
var SmartCategories = []SmartCategory{SmartProfile, SmartPreferences, SmartEntities, SmartEvents, SmartCases, SmartPatterns}

// ParseSmartCategory accepts one of the six smart categories.
func ParseSmartCategory(s string) (SmartCategory, bool) {
	c := SmartCategory(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range SmartCategories {
		if c == k {
			return k, true
		}
	}
	return "", false
}
