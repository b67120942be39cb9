package memory

import (
	"errors"
	"strings"
	"testing"
)

// nested returns metadata whose objects (or arrays, every other level)
// nest depth levels deep, the metadata object itself being level 1.
func nested(depth int, arrays bool) map[string]any {
	var v any = map[string]any{}
	for level := depth - 1; level >= 1; level-- {
		if arrays && level%2 == 0 {
			v = []any{"x", v}
		} else {
			v = map[string]any{"k": v}
		}
	}
	return v.(map[string]any)
}

func TestValidateMetadataDepth(t *testing.T) {
	for _, arrays := range []bool{false, true} {
		if err := ValidateMetadata(nested(MaxMetadataDepth, arrays)); err != nil {
			t.Errorf("arrays=%v: %d levels refused: %v", arrays, MaxMetadataDepth, err)
		}
		for _, depth := range []int{MaxMetadataDepth + 1, 1000, 100000} {
			err := ValidateMetadata(nested(depth, arrays))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "deeper than the 32-level limit: flatten it") {
				t.Errorf("arrays=%v depth %d: got %v", arrays, depth, err)
			}
		}
	}
	if err := ValidateMetadata(nil); err != nil {
		t.Errorf("nil metadata: %v", err)
	}
}

// Every way into the store checks depth: Validate for new rows, and
// ValidateFields, which the store runs on every insert and update.
func TestDeepMetadataRefusedEverywhere(t *testing.T) {
	m := Memory{Text: "t", Category: CategoryFact, Scope: GlobalScope, Importance: 0.5, Metadata: nested(MaxMetadataDepth+1, false)}
	for name, check := range map[string]func() error{"Validate": m.Validate, "ValidateFields": m.ValidateFields} {
		if err := check(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "32-level limit") {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
