package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/trove-memory/trove/internal/memory"
)

// parseImportance reads a flag value; NaN, Inf and out-of-range are refused.
func parseImportance(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0, fmt.Errorf("--importance %q: %w", s, memory.Invalidf("not a number: use a number from 0 to 1"))
	}
	if err := memory.ValidateImportance(f); err != nil {
		return 0, fmt.Errorf("--importance: %w", err)
	}
	return f, nil
}

// parseMetadata reads a JSON object.
func parseMetadata(s string) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("--metadata: %w", memory.Invalidf("not valid JSON (%v): give an object such as '{\"source\":\"chat\"}'", err))
	}
	if dec.More() {
		return nil, fmt.Errorf("--metadata: %w", memory.Invalidf("extra data after the JSON object"))
	}
	md, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("--metadata: %w", memory.Invalidf("must be a JSON object, got %s", jsonKind(v)))
	}
	return normaliseNumbers(md).(map[string]any), nil
}

// normaliseNumbers turns json.Number into float64 (or int64 when whole),
// matching what the store returns after a round trip.
func normaliseNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normaliseNumbers(x)
		}
		return t
	case []any:
		for i := range t {
			t[i] = normaliseNumbers(t[i])
		}
		return t
	case json.Number:
		f, _ := t.Float64()
		return f
	}
	return v
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}
