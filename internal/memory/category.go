package memory

import (
	"github.com/trove-memory/trove/internal/lazyre"
	"strings"
)

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

// NormalizeSmartCategory reads a memory_category value as
// memory-lancedb-pro does (normalizeCategory): case and surrounding space
// are ignored and the singular aliases preference, entity, event, case and
// pattern are accepted. ok is false for anything else.
func NormalizeSmartCategory(s string) (SmartCategory, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "preference", "entity", "event", "case", "pattern":
		s += "s"
		if s == "entitys" {
			s = "entities"
		}
	}
	return ParseSmartCategory(s)
}

// profileText is memory-lancedb-pro's looksLikePersonalProfileText: a
// first-person identity statement. JavaScript's \b and its /i flag
// without the u flag are ASCII-only, as Go's \b is; the letters are
// spelt out so that Go's Unicode case folding (ſ for s, K for k) does not
// widen the match.
var profileText = lazyre.New(`\b([Mm][Yy] |[Ii] [Aa][Mm] |[Ii]'[Mm] |[Nn][Aa][Mm][Ee] [Ii][Ss] |叫我|我的|我是)\b`)

// SmartCategoryFor is the six-category memory_category a row answers to
// in a memory_category filter. A smart row (format 1) answers to its
// metadata memory_category (metaCategory); a legacy row, or a smart row
// whose memory_category is not one of the six, answers through
// memory-lancedb-pro's reverseMapLegacyCategory from its storage category:
//
//	preference -> preferences   entity -> entities   other, reflection -> patterns
//	fact -> profile for a short (< 200 UTF-16 units) first-person identity
//	        statement ("my ", "i am ", "i'm ", "name is ", 叫我, 我的, 我是), else cases
//	decision -> events; a reflection-mapped row (metadata type
//	        "memory-reflection-mapped") reads as a fact
//
// metaType is the row's metadata "type". This is the one definition: the
// store's SQL filter calls it too.
func SmartCategoryFor(format Format, cat Category, text, metaType, metaCategory string) SmartCategory {
	if format == FormatSmart {
		if c, ok := NormalizeSmartCategory(metaCategory); ok {
			return c
		}
	}
	switch cat {
	case CategoryPreference:
		return SmartPreferences
	case CategoryEntity:
		return SmartEntities
	case CategoryDecision:
		if metaType != "memory-reflection-mapped" {
			return SmartEvents
		}
		fallthrough
	case CategoryFact:
		if utf16Len(text) < 200 && profileText.MatchString(text) {
			return SmartProfile
		}
		return SmartCases
	}
	return SmartPatterns
}

// SmartCategoryOf is SmartCategoryFor of m.
func SmartCategoryOf(m Memory) SmartCategory {
	return SmartCategoryFor(m.Format, m.Category, m.Text, MetaString(m.Metadata, "type"), MetaString(m.Metadata, KeyMemoryCategory))
}

// utf16Len is JavaScript's String.length.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}
