// Package memory holds trove's domain types: a Memory row, its category,
// scope and smart metadata, and the sentinel errors callers branch on.
// It performs no I/O and imports no other trove package.
//
//	m := memory.Memory{Text: "prefers dark mode", Category: memory.CategoryPreference, Scope: memory.GlobalScope}
//	if err := m.Validate(); err != nil { ... }
package memory

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Format tells whether a row is legacy/raw (0) or smart (1, carries L0/L1/L2
// metadata). It is always explicit, never guessed from metadata keys.
type Format int

const (
	FormatLegacy Format = 0
	FormatSmart  Format = 1
)

// Limits on outside input. MaxTextBytes is documented in README: a memory is
// a statement, not a document; longer input should be split by the caller.
const (
	MaxTextBytes     = 32 * 1024
	MaxIDBytes       = 128
	MaxMetadataBytes = 256 * 1024
)

// Memory is one stored memory row.
type Memory struct {
	ID         string         `json:"id"`
	Text       string         `json:"text"`
	Category   Category       `json:"category"`
	Scope      Scope          `json:"scope"`
	Importance float64        `json:"importance"`
	CreatedAt  int64          `json:"created_at"` // unix ms
	UpdatedAt  int64          `json:"updated_at"` // unix ms
	Revision   int64          `json:"revision"`
	Format     Format         `json:"format"`
	Metadata   map[string]any `json:"metadata"`
	Vector     []float32      `json:"vector,omitempty"`
}

// Validate checks the fields a caller supplies: text, category, scope,
// importance, id and metadata. Errors wrap ErrInvalid and name the field.
func (m *Memory) Validate() error {
	if err := m.validateFields(); err != nil {
		return err
	}
	return ValidateMetadata(m.Metadata)
}

// CheckMetadataSize checks the encoded size of metadata.
func CheckMetadataSize(n int) error {
	if n > MaxMetadataBytes {
		return Invalidf("metadata is %d bytes, over the %d-byte limit", n, MaxMetadataBytes)
	}
	return nil
}

// ValidateFields is Validate without encoding the metadata, for callers
// that encode it anyway (the store) and check its size then.
func (m *Memory) ValidateFields() error {
	if err := m.validateFields(); err != nil {
		return err
	}
	return checkMetadataDepth(m.Metadata)
}

func (m *Memory) validateFields() error {
	if err := ValidateText(m.Text); err != nil {
		return err
	}
	if m.ID != "" {
		if err := ValidateID(m.ID); err != nil {
			return err
		}
	}
	if _, err := ParseCategory(string(m.Category)); err != nil {
		return err
	}
	if _, err := ParseScope(string(m.Scope)); err != nil {
		return err
	}
	if err := ValidateImportance(m.Importance); err != nil {
		return err
	}
	if m.Format != FormatLegacy && m.Format != FormatSmart {
		return Invalidf("format %d is unknown: use 0 (legacy) or 1 (smart)", m.Format)
	}
	for i, f := range m.Vector {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return Invalidf("vector value %d is not a finite number", i)
		}
	}
	return nil
}

// ValidateText checks a memory's text.
func ValidateText(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return Invalidf("text is empty: give the memory's text")
	case !utf8.ValidString(s):
		return Invalidf("text is not valid UTF-8: re-encode it as UTF-8")
	case strings.ContainsRune(s, 0):
		return Invalidf("text contains a NUL byte: remove it")
	case len(s) > MaxTextBytes:
		return Invalidf("text is %d bytes, over the %d-byte limit: split it into smaller memories", len(s), MaxTextBytes)
	}
	return nil
}

// ValidateID checks a memory id: printable UTF-8 without spaces, at most
// MaxIDBytes. Imported ids are kept as they are, so any such string is fine.
func ValidateID(id string) error {
	switch {
	case id == "":
		return Invalidf("id is empty")
	case len(id) > MaxIDBytes:
		return Invalidf("id is %d bytes, over the %d-byte limit", len(id), MaxIDBytes)
	case !utf8.ValidString(id):
		return Invalidf("id is not valid UTF-8")
	}
	for _, r := range id {
		if r < 0x21 || r == 0x7f {
			return Invalidf("id %q contains a space or control character: ids are printable text without spaces", id)
		}
	}
	return nil
}

// ValidateImportance checks that importance is a finite number in [0,1].
func ValidateImportance(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1 {
		return Invalidf("importance %v is out of range: use a number from 0 to 1", f)
	}
	return nil
}

// Clone returns a deep copy (metadata and vector included).
func (m Memory) Clone() Memory {
	c := m
	if m.Metadata != nil {
		c.Metadata = CloneMetadata(m.Metadata)
	}
	if m.Vector != nil {
		c.Vector = append([]float32(nil), m.Vector...)
	}
	return c
}

// CloneMetadata deep-copies a JSON-like map.
func CloneMetadata(md map[string]any) map[string]any {
	out := make(map[string]any, len(md))
	for k, v := range md {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return CloneMetadata(t)
	case []any:
		c := make([]any, len(t))
		for i := range t {
			c[i] = cloneValue(t[i])
		}
		return c
	default:
		return v
	}
}

// Invalidf returns an *InvalidError: errors.Is(err, ErrInvalid) holds, and
// its message is only what is wrong (the sentinel's words are not repeated).
func Invalidf(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}
