package memory

import "encoding/json"

// MaxMetadataDepth is how deeply objects and arrays may nest in metadata,
// the metadata object itself being level 1. Smart metadata is two levels
// deep; the bound keeps every reader of the stored JSON (encoding/json,
// SQLite's JSON functions, which give up at 1,000 levels) well inside what
// it handles, so deep input is the caller's error and never the store's.
const MaxMetadataDepth = 32

// ValidateMetadata checks metadata against MaxMetadataDepth and, encoded
// as the store writes it, MaxMetadataBytes. Every front end shares it
// through Memory.Validate; the store checks the same limits on write.
func ValidateMetadata(md map[string]any) error {
	if md == nil {
		return nil
	}
	if err := checkMetadataDepth(md); err != nil {
		return err
	}
	b, err := json.Marshal(md)
	if err != nil {
		return Invalidf("metadata cannot be encoded as JSON: %v", err)
	}
	return CheckMetadataSize(len(b))
}

// checkMetadataDepth is the depth half of ValidateMetadata: a walk that
// stops one level past the limit, so its cost does not grow with how deep
// the input goes.
func checkMetadataDepth(md map[string]any) error {
	if tooDeep(md, 1) {
		return Invalidf("metadata nests objects or arrays deeper than the %d-level limit: flatten it, or keep the deep part as a JSON string", MaxMetadataDepth)
	}
	return nil
}

func tooDeep(v any, level int) bool {
	switch v := v.(type) {
	case map[string]any:
		if level > MaxMetadataDepth {
			return true
		}
		for _, x := range v {
			if tooDeep(x, level+1) {
				return true
			}
		}
	case []any:
		if level > MaxMetadataDepth {
			return true
		}
		for _, x := range v {
			if tooDeep(x, level+1) {
				return true
			}
		}
	}
	return false
}
