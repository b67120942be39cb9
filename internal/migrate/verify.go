package migrate

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/trove-memory/trove/internal/memory"
)

// SourceRow is one line of the exporter's output: memory-lancedb-pro's row
// as its table holds it. Fields whose type varies between stores stay raw.
type SourceRow struct {
	ID         string          `json:"id"`
	Text       string          `json:"text"`
	Category   json.RawMessage `json:"category"`
	Scope      *string         `json:"scope"`
	Importance json.RawMessage `json:"importance"`
	Timestamp  json.RawMessage `json:"timestamp"`
	Metadata   json.RawMessage `json:"metadata"`
}

// Adjustment reasons: the documented changes trove's import makes to
// memory-lancedb-pro's values (docs/IMPORT.md), named as its report names
// them. Compare states each rule on its own, not by calling the importer,
// so that it checks the importer.
const (
	ScopeDefaulted      = "scope_defaulted"       // null or blank scope: the default scope
	CategoryUnknown     = "category_unknown"      // not one of trove's: other, original in metadata.original_category
	CategoryCase        = "category_case"         // a known category in another letter case
	TimestampSeconds    = "timestamp_seconds"     // below 1e12: seconds, floored ×1000
	TimestampFraction   = "timestamp_fraction"    // fractional milliseconds, floored
	LastAccessedSeconds = "last_accessed_seconds" // metadata.last_accessed_at in seconds
	ImportanceLegacy    = "importance_legacy"     // whole 1-5 on the old scale (--legacy-importance)
	ImportanceClamped   = "importance_clamped"    // outside [0,1]: clamped
	ImportanceInvalid   = "importance_invalid"    // not a finite number: 0.7
	MetadataFolded      = "metadata_folded"       // accessCount/lastAccessedAt into access_count/last_accessed_at
	MetadataNotJSON     = "metadata_not_json"     // not a JSON object: kept under raw_metadata
)

// Reasons describes each adjustment for people.
var Reasons = map[string]string{
	ScopeDefaulted:      "null or blank scope → the default scope",
	CategoryUnknown:     "unknown category → other, the original in metadata.original_category",
	CategoryCase:        "category in another letter case → lower case",
	TimestampSeconds:    "timestamp in seconds → milliseconds",
	TimestampFraction:   "fractional milliseconds → floored",
	LastAccessedSeconds: "metadata.last_accessed_at in seconds → milliseconds",
	ImportanceLegacy:    "importance on the old 1–5 scale → 0.20…0.95",
	ImportanceClamped:   "importance outside [0,1] → clamped",
	ImportanceInvalid:   "importance not a finite number → 0.7",
	MetadataFolded:      "accessCount/lastAccessedAt → access_count/last_accessed_at",
	MetadataNotJSON:     "metadata not a JSON object → kept under raw_metadata",
}

// Difference is a field of a row where trove does not hold what the
// source holds, nor a documented adjustment of it.
type Difference struct {
	ID       string `json:"id"`
	Field    string `json:"field"`
	Expected string `json:"expected"`
	Trove    string `json:"trove"`
}

func (d Difference) String() string {
	return fmt.Sprintf("%s %s: expected %s, trove has %s", d.ID, d.Field, d.Expected, d.Trove)
}

// RowResult is the comparison of one row.
type RowResult struct {
	Adjusted    []string     // reasons, in field order
	Differences []Difference // empty: the row moved whole
}

// CompareOptions are the import's settings the expected values depend on.
type CompareOptions struct {
	// DefaultScope is where null or blank scopes went (default global).
	DefaultScope string
}

var legacyImportance = [6]float64{0, 0.20, 0.40, 0.60, 0.80, 0.95}

// Compare checks that t (nil: not in trove) holds source row s, allowing
// the documented adjustments and naming each one it finds.
func Compare(s SourceRow, t *memory.Memory, o CompareOptions) RowResult {
	var r RowResult
	diff := func(field string, src, tgt any) {
		r.Differences = append(r.Differences, Difference{ID: s.ID, Field: field, Expected: show(src), Trove: show(tgt)})
	}
	if t == nil {
		diff("row", "present", "missing")
		return r
	}
	if s.Text != t.Text {
		diff("text", s.Text, t.Text)
	}

	// scope
	if s.Scope == nil || strings.TrimSpace(*s.Scope) == "" {
		def := o.DefaultScope
		if def == "" {
			def = string(memory.GlobalScope)
		}
		if string(t.Scope) == def {
			r.Adjusted = append(r.Adjusted, ScopeDefaulted)
		} else {
			diff("scope", rawOrNull(s.Scope), string(t.Scope))
		}
	} else if *s.Scope != string(t.Scope) {
		diff("scope", *s.Scope, string(t.Scope))
	}

	// category
	origCategory := ""
	var cat any
	_ = json.Unmarshal(s.Category, &cat)
	switch c := cat.(type) {
	case nil:
		if t.Category != memory.Category("other") {
			diff("category", nil, string(t.Category))
		}
	case string:
		switch {
		case c == "" && t.Category == "other", c == string(t.Category):
		case strings.ToLower(c) == string(t.Category) && knownCategory(t.Category):
			r.Adjusted = append(r.Adjusted, CategoryCase)
		case !knownCategory(memory.Category(strings.ToLower(c))) && t.Category == "other":
			r.Adjusted = append(r.Adjusted, CategoryUnknown)
			origCategory = c
		default:
			diff("category", c, string(t.Category))
		}
	default:
		if t.Category == "other" {
			r.Adjusted = append(r.Adjusted, CategoryUnknown)
			origCategory = string(s.Category)
		} else {
			diff("category", string(s.Category), string(t.Category))
		}
	}

	// importance
	want, reasons := expectImportance(s.Importance)
	matched := ""
	for i, w := range want {
		if math.Abs(w-t.Importance) < 1e-6 {
			matched = reasons[i]
			break
		}
	}
	switch {
	case matched == "-":
	case matched != "":
		r.Adjusted = append(r.Adjusted, matched)
	default:
		diff("importance", string(s.Importance), t.Importance)
	}

	// timestamps: created_at and updated_at both come from timestamp
	if ts, ok := number(s.Timestamp); ok && ts > 0 {
		want := math.Floor(ts)
		reason := ""
		if want < 1e12 {
			want *= 1000
			reason = TimestampSeconds
		} else if want != ts {
			reason = TimestampFraction
		}
		ok := float64(t.CreatedAt) == want
		if !ok {
			diff("created_at", string(s.Timestamp), t.CreatedAt)
		}
		if float64(t.UpdatedAt) != want {
			diff("updated_at", string(s.Timestamp), t.UpdatedAt)
			ok = false
		}
		if ok && reason != "" {
			r.Adjusted = append(r.Adjusted, reason)
		}
	}

	// metadata
	wantMeta, metaReasons := expectMetadata(s.Metadata)
	if origCategory != "" {
		wantMeta["original_category"] = origCategory
	}
	got := normalize(t.Metadata)
	if got == nil {
		got = map[string]any{}
	}
	metaOK := true
	for k, w := range wantMeta {
		g, ok := got[k]
		if !ok {
			diff("metadata."+k, w, "absent")
			metaOK = false
			continue
		}
		if !jsonEqual(w, g) && !(k == "raw_metadata" && rawMetadataMatches(s.Metadata, g)) {
			diff("metadata."+k, w, g)
			metaOK = false
		}
	}
	for k, g := range got {
		if _, ok := wantMeta[k]; !ok {
			diff("metadata."+k, "absent", g)
			metaOK = false
		}
	}
	if metaOK {
		r.Adjusted = append(r.Adjusted, metaReasons...)
	}
	return r
}

func knownCategory(c memory.Category) bool {
	switch c {
	case "preference", "fact", "decision", "entity", "reflection", "other":
		return true
	}
	return false
}

// expectImportance lists the values trove may hold for a source importance
// and the reason of each ("-": no adjustment). A whole 1–5 may have gone
// either way, depending on --legacy-importance.
func expectImportance(raw json.RawMessage) ([]float64, []string) {
	if len(raw) == 0 || string(raw) == "null" {
		return []float64{0.7}, []string{"-"}
	}
	v, ok := number(raw)
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return []float64{0.7}, []string{ImportanceInvalid}
	}
	var want []float64
	var why []string
	if v == math.Trunc(v) && v >= 1 && v <= 5 {
		want, why = append(want, legacyImportance[int(v)]), append(why, ImportanceLegacy)
	}
	c := math.Max(0, math.Min(1, v))
	if c == v {
		want, why = append(want, v), append(why, "-")
	} else {
		want, why = append(want, c), append(why, ImportanceClamped)
	}
	return want, why
}

// number reads a JSON number, or a string holding one as JavaScript's
// Number() reads it ("NaN" is NaN).
func number(raw json.RawMessage) (float64, bool) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, false
	}
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0, true
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			if s == "NaN" {
				return math.NaN(), true
			}
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// expectMetadata is the metadata trove should hold for the source's, and
// the adjustments that take it there.
func expectMetadata(raw json.RawMessage) (map[string]any, []string) {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil || v == nil {
		return map[string]any{}, nil
	}
	if s, ok := v.(string); ok {
		if strings.TrimSpace(s) == "" {
			return map[string]any{}, nil
		}
		var inner any
		if json.Unmarshal([]byte(s), &inner) != nil {
			return map[string]any{"raw_metadata": s}, []string{MetadataNotJSON}
		}
		v = inner
	}
	m, ok := v.(map[string]any)
	if !ok {
		return map[string]any{"raw_metadata": v}, []string{MetadataNotJSON}
	}
	var why []string
	fold := func(camel, snake string) {
		cv, ok := m[camel].(float64)
		if !ok {
			return
		}
		if sv, ok := m[snake].(float64); !ok || cv > sv {
			m[snake] = cv
		}
		delete(m, camel)
		if len(why) == 0 || why[len(why)-1] != MetadataFolded {
			why = append(why, MetadataFolded)
		}
	}
	fold("accessCount", "access_count")
	fold("lastAccessedAt", "last_accessed_at")
	if la, ok := m["last_accessed_at"].(float64); ok && la >= 1 && la < 1e12 {
		m["last_accessed_at"] = math.Floor(la) * 1000
		why = append(why, LastAccessedSeconds)
	}
	return m, why
}

// rawMetadataMatches accepts raw_metadata held as the source's string or
// as the JSON value in it.
func rawMetadataMatches(raw json.RawMessage, got any) bool {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return false
	}
	if g, ok := got.(string); ok {
		return g == s
	}
	var inner any
	return json.Unmarshal([]byte(s), &inner) == nil && jsonEqual(inner, got)
}

// normalize round-trips v through JSON, so numbers are float64 on both sides.
func normalize(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return m
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil {
		return m
	}
	return out
}

func jsonEqual(a, b any) bool {
	ab, err1 := json.Marshal(a)
	bb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return reflect.DeepEqual(a, b)
	}
	var x, y any
	_ = json.Unmarshal(ab, &x)
	_ = json.Unmarshal(bb, &y)
	return reflect.DeepEqual(x, y)
}

func rawOrNull(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if x == "absent" || x == "present" || x == "missing" {
			return x
		}
		return strconv.Quote(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
