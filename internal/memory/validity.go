package memory

// Metadata keys of a fact's validity, as memory-lancedb-pro names them (so
// rows migrated from it keep their history). Times are unix milliseconds.
const (
	// KeyFactKey names the fact a preferences or entities row states
	// ("<category>:<normalised topic>"): rows sharing it are values of one
	// fact over time, and at most one of them is active.
	KeyFactKey = "fact_key"
	// KeyValidFrom is when the row became true (default: created_at).
	KeyValidFrom = "valid_from"
	// KeyValidUntil is when the row stops being true by itself (an
	// expiry: "tomorrow", "next week").
	KeyValidUntil = "valid_until"
	// KeyInvalidatedAt is when a newer row replaced this one.
	KeyInvalidatedAt = "invalidated_at"
	// KeySupersedes and KeySupersededBy link the rows of a changed fact.
	KeySupersedes   = "supersedes"
	KeySupersededBy = "superseded_by"
	// KeyTemporalType is static or dynamic (time-sensitive).
	KeyTemporalType = "memory_temporal_type"
)

// The values of KeyTemporalType.
const (
	TemporalStatic  = "static"
	TemporalDynamic = "dynamic"
)

// ValidFrom is when m became true: its valid_from, else its created_at.
func ValidFrom(m Memory) int64 {
	if f, ok := MetaMillis(m.Metadata, KeyValidFrom); ok {
		return int64(f)
	}
	return m.CreatedAt
}

// InvalidatedAt is when m was replaced, 0 when it was not.
func InvalidatedAt(m Memory) int64 {
	f, _ := MetaMillis(m.Metadata, KeyInvalidatedAt)
	return int64(f)
}

// ValidUntil is when m expires, 0 when it does not.
func ValidUntil(m Memory) int64 {
	f, _ := MetaMillis(m.Metadata, KeyValidUntil)
	return int64(f)
}

// ActiveAt reports whether m was true at unix-ms at: it had become true,
// was not yet replaced, had not expired and was not yet archived
// (ArchivedAt). This is the one definition of "active"; the store's SQL
// applies the same predicate to its columns.
func ActiveAt(m Memory, at int64) bool {
	if ValidFrom(m) > at {
		return false
	}
	if inv := InvalidatedAt(m); inv != 0 && inv <= at {
		return false
	}
	if until := ValidUntil(m); until != 0 && until <= at {
		return false
	}
	if arch := ArchivedAt(m); arch != 0 && arch <= at {
		return false
	}
	return true
}

// StorageCategoryFor is the storage category a row of smart category c
// gets, as memory-lancedb-pro maps them when it stores an extracted
// memory: profile and cases are facts, events decisions, patterns other.
func StorageCategoryFor(c SmartCategory) Category {
	switch c {
	case SmartPreferences:
		return CategoryPreference
	case SmartEntities:
		return CategoryEntity
	case SmartEvents:
		return CategoryDecision
	case SmartPatterns:
		return CategoryOther
	}
	return CategoryFact
}
