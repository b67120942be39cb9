package migrate

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
)

// TestCompare states the expected mapping of memory-lancedb-pro's values to
// trove's in its own table (docs/IMPORT.md), not by calling the importer:
// each source row, what trove holds, and the verdict.
func TestCompare(t *testing.T) {
	const ms = int64(1735689600000)
	base := func() memory.Memory {
		return memory.Memory{ID: "a", Text: "t", Category: "fact", Scope: "global", Importance: 0.5,
			CreatedAt: ms, UpdatedAt: ms, Metadata: map[string]any{}}
	}
	with := func(f func(*memory.Memory)) *memory.Memory { m := base(); f(&m); return &m }
	src := func(line string) SourceRow {
		var s SourceRow
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	const row = `{"id":"a","text":"t","category":"fact","scope":"global","importance":0.5,"timestamp":1735689600000,"metadata":"{}"}`
	tests := []struct {
		name     string
		src      string
		tgt      *memory.Memory
		adjusted []string
		diffs    []string // fields
	}{
		{"same", row, with(func(*memory.Memory) {}), nil, nil},
		{"missing", row, nil, nil, []string{"row"}},
		{"text changed", row, with(func(m *memory.Memory) { m.Text = "u" }), nil, []string{"text"}},
		{"null scope to global", `{"id":"a","text":"t","category":"fact","scope":null,"importance":0.5,"timestamp":1735689600000}`,
			with(func(*memory.Memory) {}), []string{ScopeDefaulted}, nil},
		{"blank scope to global", `{"id":"a","text":"t","category":"fact","scope":"  ","importance":0.5,"timestamp":1735689600000}`,
			with(func(*memory.Memory) {}), []string{ScopeDefaulted}, nil},
		{"null scope elsewhere", `{"id":"a","text":"t","category":"fact","scope":null,"importance":0.5,"timestamp":1735689600000}`,
			with(func(m *memory.Memory) { m.Scope = "agent:x" }), nil, []string{"scope"}},
		{"custom and reflection scopes kept", `{"id":"a","text":"t","category":"fact","scope":"reflection:agent:main","importance":0.5,"timestamp":1735689600000}`,
			with(func(m *memory.Memory) { m.Scope = "reflection:agent:main" }), nil, nil},
		{"scope changed", row, with(func(m *memory.Memory) { m.Scope = "shared-team" }), nil, []string{"scope"}},
		{"unknown category", `{"id":"a","text":"t","category":"stress","scope":"global","importance":0.5,"timestamp":1735689600000}`,
			with(func(m *memory.Memory) {
				m.Category = "other"
				m.Metadata = map[string]any{"original_category": "stress"}
			}),
			[]string{CategoryUnknown}, nil},
		{"unknown category, original lost", `{"id":"a","text":"t","category":"stress","scope":"global","importance":0.5,"timestamp":1735689600000}`,
			with(func(m *memory.Memory) { m.Category = "other" }), nil, []string{"metadata.original_category"}},
		{"category changed", row, with(func(m *memory.Memory) { m.Category = "decision" }), nil, []string{"category"}},
		{"null category is other", `{"id":"a","text":"t","category":null,"scope":"global","importance":0.5,"timestamp":1735689600000}`,
			with(func(m *memory.Memory) { m.Category = "other" }), nil, nil},
		{"seconds timestamp", `{"id":"a","text":"t","category":"fact","scope":"global","importance":0.5,"timestamp":1735689600}`,
			with(func(*memory.Memory) {}), []string{TimestampSeconds}, nil},
		{"timestamp changed", row, with(func(m *memory.Memory) { m.CreatedAt++; m.UpdatedAt++ }), nil, []string{"created_at", "updated_at"}},
		{"legacy importance 5", `{"id":"a","text":"t","category":"fact","scope":"global","importance":5,"timestamp":1735689600000}`,
			with(func(m *memory.Memory) { m.Importance = 0.95 }), []string{ImportanceLegacy}, nil},
		{"legacy importance 1", `{"id":"a","text":"t","category":"fact","scope":"global","importance":1,"timestamp":1735689600000}`,
			with(func(m *memory.Memory) { m.Importance = 0.2 }), []string{ImportanceLegacy}, nil},
		{"importance 1 without the flag", `{"id":"a","text":"t","category":"fact","scope":"global","importance":1,"timestamp":1735689600000}`,
			with(func(m *memory.Memory) { m.Importance = 1 }), nil, nil},
		{"importance 5 clamped", `{"id":"a","text":"t","category":"fact","scope":"global","importance":5,"timestamp":1735689600000}`,
			with(func(m *memory.Memory) { m.Importance = 1 }), []string{ImportanceClamped}, nil},
		{"importance 7 clamped", `{"id":"a","text":"t","category":"fact","scope":"global","importance":7,"timestamp":1735689600000}`,
			with(func(m *memory.Memory) { m.Importance = 1 }), []string{ImportanceClamped}, nil},
		{"negative importance clamped", `{"id":"a","text":"t","category":"fact","scope":"global","importance":-0.5,"timestamp":1735689600000}`,
			with(func(m *memory.Memory) { m.Importance = 0 }), []string{ImportanceClamped}, nil},
		{"NaN importance", `{"id":"a","text":"t","category":"fact","scope":"global","importance":"NaN","timestamp":1735689600000}`,
			with(func(m *memory.Memory) { m.Importance = 0.7 }), []string{ImportanceInvalid}, nil},
		{"null importance", `{"id":"a","text":"t","category":"fact","scope":"global","importance":null,"timestamp":1735689600000}`,
			with(func(m *memory.Memory) { m.Importance = 0.7 }), nil, nil},
		{"importance changed", row, with(func(m *memory.Memory) { m.Importance = 0.6 }), nil, []string{"importance"}},
		{"non-JSON metadata", `{"id":"a","text":"t","category":"fact","scope":"global","importance":0.5,"timestamp":1735689600000,"metadata":"a note"}`,
			with(func(m *memory.Memory) { m.Metadata = map[string]any{"raw_metadata": "a note"} }), []string{MetadataNotJSON}, nil},
		{"array metadata", `{"id":"a","text":"t","category":"fact","scope":"global","importance":0.5,"timestamp":1735689600000,"metadata":"[1,2]"}`,
			with(func(m *memory.Memory) { m.Metadata = map[string]any{"raw_metadata": "[1,2]"} }), []string{MetadataNotJSON}, nil},
		{"non-JSON metadata dropped", `{"id":"a","text":"t","category":"fact","scope":"global","importance":0.5,"timestamp":1735689600000,"metadata":"a note"}`,
			with(func(*memory.Memory) {}), nil, []string{"metadata.raw_metadata"}},
		{"camelCase folded", `{"id":"a","text":"t","category":"fact","scope":"global","importance":0.5,"timestamp":1735689600000,"metadata":"{\"accessCount\":4,\"lastAccessedAt\":1735689600005,\"k\":\"v\"}"}`,
			with(func(m *memory.Memory) {
				m.Metadata = map[string]any{"access_count": 4, "last_accessed_at": 1735689600005, "k": "v"}
			}), []string{MetadataFolded}, nil},
		{"camelCase folded, the larger kept", `{"id":"a","text":"t","category":"fact","scope":"global","importance":0.5,"timestamp":1735689600000,"metadata":"{\"accessCount\":4,\"access_count\":9}"}`,
			with(func(m *memory.Memory) { m.Metadata = map[string]any{"access_count": 9} }), []string{MetadataFolded}, nil},
		{"last_accessed_at seconds", `{"id":"a","text":"t","category":"fact","scope":"global","importance":0.5,"timestamp":1735689600000,"metadata":"{\"last_accessed_at\":1735689600}"}`,
			with(func(m *memory.Memory) { m.Metadata = map[string]any{"last_accessed_at": 1735689600000} }), []string{LastAccessedSeconds}, nil},
		{"metadata key lost", `{"id":"a","text":"t","category":"fact","scope":"global","importance":0.5,"timestamp":1735689600000,"metadata":"{\"k\":\"v\"}"}`,
			with(func(*memory.Memory) {}), nil, []string{"metadata.k"}},
		{"metadata key added", row, with(func(m *memory.Memory) { m.Metadata = map[string]any{"x": 1} }), nil, []string{"metadata.x"}},
		{"every adjustment at once", `{"id":"a","text":"t","category":"Stress","scope":null,"importance":3,"timestamp":1735689600,"metadata":"nope"}`,
			with(func(m *memory.Memory) {
				m.Category = "other"
				m.Importance = 0.6
				m.Metadata = map[string]any{"original_category": "Stress", "raw_metadata": "nope"}
			}), []string{ScopeDefaulted, CategoryUnknown, ImportanceLegacy, TimestampSeconds, MetadataNotJSON}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Compare(src(tc.src), tc.tgt, CompareOptions{})
			var fields []string
			for _, d := range got.Differences {
				fields = append(fields, d.Field)
			}
			if !reflect.DeepEqual(fields, tc.diffs) {
				t.Errorf("differences %v, want fields %v", got.Differences, tc.diffs)
			}
			if len(tc.diffs) == 0 && !reflect.DeepEqual(got.Adjusted, tc.adjusted) {
				t.Errorf("adjusted %v, want %v", got.Adjusted, tc.adjusted)
			}
		})
	}
}

func TestCompareDefaultScope(t *testing.T) {
	s := SourceRow{ID: "a", Text: "t", Importance: json.RawMessage("0.5")}
	m := &memory.Memory{ID: "a", Text: "t", Category: "other", Scope: "custom:old", Importance: 0.5}
	if r := Compare(s, m, CompareOptions{DefaultScope: "custom:old"}); len(r.Differences) != 0 || !reflect.DeepEqual(r.Adjusted, []string{ScopeDefaulted}) {
		t.Fatalf("%+v", r)
	}
	if r := Compare(s, m, CompareOptions{}); len(r.Differences) != 1 {
		t.Fatalf("a null scope in custom:old with the default global: %+v", r)
	}
}
