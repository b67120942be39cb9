package memory

// Metadata keys of smart (format 1) rows.
const (
	KeyL0             = "l0_abstract"
	KeyL1             = "l1_overview"
	KeyL2             = "l2_content"
	KeyMemoryCategory = "memory_category"
	KeyTier           = "tier"
	KeyAccessCount    = "access_count"
	KeyLastAccessedAt = "last_accessed_at"
	KeyConfidence     = "confidence"
	KeyUpgradedFrom   = "upgraded_from"
	KeyUpgradedAt     = "upgraded_at"
	KeyEnrichedBy     = "enriched_by"
	KeySource         = "source"
)

// MetaString returns md[key] when it is a string.
func MetaString(md map[string]any, key string) string {
	s, _ := md[key].(string)
	return s
}
