package memory

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

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

// MetaNumber reads a metadata number: a float64 as decoded from JSON, any
// Go integer or float, a json.Number or a numeric string.
func MetaNumber(md map[string]any, key string) (float64, bool) {
	var f float64
	switch v := md[key].(type) {
	case float64:
		f = v
	case float32:
		f = float64(v)
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case int32:
		f = float64(v)
	case uint:
		f = float64(v)
	case uint64:
		f = float64(v)
	case uint32:
		f = float64(v)
	case json.Number:
		x, err := v.Float64()
		if err != nil {
			return 0, false
		}
		f = x
	case string:
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, false
		}
		f = x
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// MetaMillis reads a metadata timestamp: unix milliseconds as a number (see
// MetaNumber), or an RFC 3339 string.
func MetaMillis(md map[string]any, key string) (float64, bool) {
	if f, ok := MetaNumber(md, key); ok {
		return f, f > 0
	}
	if s, ok := md[key].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s)); err == nil {
			return float64(t.UnixMilli()), true
		}
	}
	return 0, false
}
