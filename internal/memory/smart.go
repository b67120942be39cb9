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

// ChangeText gives m a new text and its vector. The L0/L1/L2 of an
// enriched row summarise the text it had, and text search indexes them,
// so a changed text drops them and the row goes back to the legacy
// format: `trove upgrade` enriches it again from the new text. The rest of
// the metadata (tier, access counts, confidence, provenance) stays.
func ChangeText(m *Memory, text string, vec []float32) {
	if text != m.Text && m.Format == FormatSmart {
		md := CloneMetadata(m.Metadata)
		delete(md, KeyL0)
		delete(md, KeyL1)
		delete(md, KeyL2)
		m.Metadata = md
		m.Format = FormatLegacy
	}
	m.Text, m.Vector = text, vec
}
