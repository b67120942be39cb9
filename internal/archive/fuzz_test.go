package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
)

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic, every
// item must either carry an error naming its position or be a memory the
// store would accept, a file-level error must come before any item, and
// any other error is a *StopError.
func FuzzDecode(f *testing.F) {
	// Small seeds: the fuzzer minimises every new input it finds, and
	// inputs grown from a whole sample file take most of a short run.
	lance, err := os.ReadFile("testdata/lancedb-pro-export.json")
	if err != nil {
		f.Fatal(err)
	}
	var doc struct {
		Memories []json.RawMessage `json:"memories"`
	}
	if err := json.Unmarshal(lance, &doc); err != nil {
		f.Fatal(err)
	}
	for _, i := range []int{0, 2, 4, 5} { // metadata string, object, reflection, Chinese
		row := doc.Memories[i]
		f.Add([]byte(`{"version":"1.0","count":1,"memories":[` + string(row) + `]}`))
		f.Add([]byte("{\n  \"memories\": [\n    " + string(row) + "\n  ]\n}\n"))
	}
	jsonl, err := os.ReadFile("testdata/trove-export.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range bytes.Split(jsonl, []byte("\n"))[:3] {
		f.Add(line)
	}
	for _, s := range []string{
		"",
		"\n\n",
		"\xef\xbb\xbf{}",
		goodRow + "\n" + goodRow3,
		`{"id":"a","text":"t","importance":1e400,"created_at":-1}`,
		`{"id":"a","text":"t","importance":"NaN"}`,
		`{"id":"a","text":"t","vector":[1e39,"x",null]}`,
		`{"id":"a","text":"t","vector":[1,2,3]}` + "\n" + `{"id":"a","text":"u"}`,
		`{"id":"a","text":"t","metadata":"{\"memory_category\":\"cases\"}"}`,
		`{"memories":[{"id":"a","text":"t","timestamp":1717000000,"metadata":"{}"}]}`,
		"{\n\"memories\": [\n{\"text\": \"x\", \"timestamp\": 99999999999}\n]\n}",
		"{\n\"memories\": [\n",
		"{\"memories\":[]}\n{\"text\":\"x\"}",
		"[1]\n",
		"{\"text\":\"\xff\"}",
		"{\"text\":\"a\\u0000b\"}",
		`{"text":"t","format":1,"revision":1e300,"updated_at":4102444800001}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		err := Decode(bytes.NewReader(data), func(it Item) error {
			n++
			if it.Pos == "" {
				t.Fatalf("item without a position: %+v", it)
			}
			if it.Err != nil {
				if !strings.HasPrefix(it.Err.Error(), it.Pos+": ") || !errors.Is(it.Err, memory.ErrInvalid) {
					t.Fatalf("row error %q does not start with its position %q", it.Err, it.Pos)
				}
				return nil
			}
			m := it.Memory
			if err := m.Validate(); err != nil {
				t.Fatalf("%s: accepted an invalid memory: %v", it.Pos, err)
			}
			if m.Category == "" || m.Scope == "" || m.Revision < 1 || m.Metadata == nil || m.CreatedAt < 0 || m.UpdatedAt < 0 {
				t.Fatalf("%s: defaults missing: %+v", it.Pos, m)
			}
			if it.HasVector != (len(m.Vector) > 0) {
				t.Fatalf("%s: HasVector %v with %d entries", it.Pos, it.HasVector, len(m.Vector))
			}
			return nil
		})
		var fe *FileError
		var se *StopError
		if errors.As(err, &fe) && n > 0 {
			t.Fatalf("file error after %d items: %v", n, err)
		}
		if err != nil && !errors.As(err, &fe) && !errors.As(err, &se) {
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
	})
}
