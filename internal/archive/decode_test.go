package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
)

func decodeAll(t *testing.T, data string) ([]Item, string, error) {
	t.Helper()
	var items []Item
	format, err := decode(strings.NewReader(data), DecodeOptions{}, func(it Item) error {
		items = append(items, it)
		return nil
	})
	return items, format, err
}

const goodRow = `{"id":"a","text":"first memory","category":"fact","scope":"global","importance":0.5,"created_at":1700000000000}`
const goodRow3 = `{"id":"c","text":"third memory"}`

func TestDecodeRowErrors(t *testing.T) {
	long := strings.Repeat("x", memory.MaxTextBytes+1)
	tests := []struct {
		name string
		row  string
		want string // substring of "line 2: ..."
	}{
		{"truncated", `{"id":"b","text":"cut off`, "line 2: truncated or invalid JSON: unexpected end of JSON input"},
		{"invalid json", `{"id":"b","text":}`, "line 2: truncated or invalid JSON: invalid character '}'"},
		{"not an object", `[1,2,3]`, "line 2: a row must be a JSON object, got an array"},
		{"bare number", `42`, "line 2: a row must be a JSON object, got a number"},
		{"text as number", `{"id":"b","text":42}`, "line 2: text must be a string, got a number (42)"},
		{"id as number", `{"id":7,"text":"t"}`, "line 2: id must be a string, got a number (7)"},
		{"id with space", `{"id":"b c","text":"t"}`, `line 2: id "b c" contains a space or control character: ids are printable text without spaces: fix the id, or remove it`},
		{"id too long", `{"id":"` + strings.Repeat("i", 129) + `","text":"t"}`, "line 2: id is 129 bytes, over the 128-byte limit"},
		{"created_at as string", `{"id":"b","text":"t","created_at":"1700000000000"}`, `line 2: created_at must be a number, got the string "1700000000000" (write it without quotes): use unix milliseconds`},
		{"created_at negative", `{"id":"b","text":"t","created_at":-5}`, "line 2: created_at -5 is negative: use unix milliseconds"},
		{"created_at microseconds", `{"id":"b","text":"t","created_at":1700000000000000}`, "line 2: created_at 1700000000000000 is after the year 2100: use unix milliseconds, not microseconds"},
		{"created_at huge", `{"id":"b","text":"t","created_at":1e400}`, "line 2: created_at 1e400 is after the year 2100"},
		{"created_at fraction", `{"id":"b","text":"t","created_at":1.5}`, "line 2: created_at 1.5 is not a whole number"},
		{"updated_at negative", `{"id":"b","text":"t","updated_at":-1}`, "line 2: updated_at -1 is negative"},
		{"revision zero", `{"id":"b","text":"t","revision":0}`, "line 2: revision 0 is out of range: use a whole number from 1"},
		{"revision fraction", `{"id":"b","text":"t","revision":2.5}`, "line 2: revision 2.5 is not a whole number in range"},
		{"format unknown", `{"id":"b","text":"t","format":2}`, "line 2: format 2 is unknown: use 0 (legacy) or 1 (smart)"},
		{"format as string", `{"id":"b","text":"t","format":"1"}`, `line 2: format must be a number, got the string "1"`},
		{"invalid utf8", "{\"id\":\"b\",\"text\":\"caf\xe9\"}", "line 2: invalid UTF-8 at byte 22 of the row: re-encode the file as UTF-8"},
		{"escaped NUL in text", `{"id":"b","text":"a\u0000b"}`, "line 2: text contains a NUL byte: remove it"},
		{"raw NUL in text", "{\"id\":\"b\",\"text\":\"a\x00b\"}", "line 2: truncated or invalid JSON: invalid character '\\x00' in string literal"},
		{"empty text", `{"id":"b","text":"  "}`, "line 2: text is empty: give the memory's text"},
		{"missing text", `{"id":"b"}`, "line 2: text is empty"},
		{"text too long", `{"id":"b","text":"` + long + `"}`, fmt.Sprintf("line 2: text is %d bytes, over the %d-byte limit: split it", len(long), memory.MaxTextBytes)},
		{"malformed scope", `{"id":"b","text":"t","scope":"team x"}`, `line 2: scope "team x" contains ' ': declared scope names may use`},
		{"scope as number", `{"id":"b","text":"t","scope":3}`, "line 2: scope must be a string, got a number (3)"},
		{"scope with space", `{"id":"b","text":"t","scope":"user:a b"}`, `line 2: scope "user:a b" contains ' '`},
		{"duplicate id", `{"id":"a","text":"again"}`, `line 2: duplicate id "a" (first seen at line 1): ids must be unique in a file`},
		{"metadata huge number", `{"id":"b","text":"t","metadata":{"n":1e400}}`, "line 2: metadata cannot be read"},
		{"metadata too large", `{"id":"b","text":"t","metadata":{"big":"` + strings.Repeat("m", memory.MaxMetadataBytes) + `"}}`, "over the 262144-byte limit"},
		{"vector not array", `{"id":"b","text":"t","vector":"0.1,0.2"}`, "line 2: vector must be an array of numbers, got a string"},
		{"vector string entry", `{"id":"b","text":"t","vector":[0.1,"0.2"]}`, `line 2: vector entry 1 must be a number, got a string ("0.2"): fix it, or remove the vector field to re-embed`},
		{"vector null entry", `{"id":"b","text":"t","vector":[0.1,null]}`, "line 2: vector entry 1 must be a number, got null"},
		{"vector float32 overflow", `{"id":"b","text":"t","vector":[0.1,1e39]}`, "line 2: vector entry 1 (1e39) is out of range for a 32-bit float"},
		{"vector 1e400", `{"id":"b","text":"t","vector":[1e400]}`, "line 2: vector entry 0 (1e400) is out of range for a 32-bit float"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, format, err := decodeAll(t, goodRow+"\n"+tc.row+"\n"+goodRow3+"\n")
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if format != FormatTroveJSONL {
				t.Fatalf("format %q", format)
			}
			if len(items) != 3 {
				t.Fatalf("got %d items, want 3", len(items))
			}
			if items[0].Err != nil || items[2].Err != nil {
				t.Fatalf("good rows failed: %v / %v", items[0].Err, items[2].Err)
			}
			it := items[1]
			if it.Pos != "line 2" {
				t.Errorf("Pos = %q", it.Pos)
			}
			if it.Err == nil {
				t.Fatalf("no error, memory %+v", it.Memory)
			}
			if !strings.Contains(it.Err.Error(), tc.want) {
				t.Errorf("error\n  %s\nwant it to contain\n  %s", it.Err, tc.want)
			}
			if !errors.Is(it.Err, memory.ErrInvalid) {
				t.Errorf("error does not wrap memory.ErrInvalid")
			}
		})
	}
}

func TestDecodeDefaultsAndFormat(t *testing.T) {
	data := strings.Join([]string{
		`{"text":"only text"}`,
		`{"id":"x1","text":"smart by metadata","metadata":{"memory_category":"preferences"}}`,
		`{"id":"x2","text":"explicit legacy wins","format":0,"metadata":{"memory_category":"preferences"}}`,
		`{"id":"x3","text":"empty memory_category is legacy","metadata":{"memory_category":""}}`,
		`{"id":"x4","text":"metadata as a string","metadata":"{\"memory_category\":\"cases\",\"k\":[1,\"two\"]}","category":"DECISION","scope":"project:x"}`,
		`{"id":"x5","text":"nulls are absent","category":null,"scope":null,"importance":null,"metadata":null,"vector":null,"id2":1}`,
		`{"id":"x6","text":"empty vector is no vector","vector":[],"created_at":5,"revision":4,"updated_at":9}`,
		`{"id":"","text":"empty id is no id"}`,
		`{"id":"x7","text":"timestamp in JSON Lines","timestamp":1717000000}`,
	}, "\n")
	items, format, err := decodeAll(t, data)
	if err != nil || format != FormatTroveJSONL {
		t.Fatalf("Decode: %v %q", err, format)
	}
	for _, it := range items {
		if it.Err != nil {
			t.Fatalf("%v", it.Err)
		}
	}
	m := items[0].Memory
	if m.ID != "" || m.Category != memory.CategoryOther || m.Scope != memory.GlobalScope || m.Importance != 0.7 ||
		m.Revision != 1 || m.Format != memory.FormatLegacy || m.CreatedAt != 0 || m.Metadata == nil {
		t.Errorf("defaults: %+v", m)
	}
	if items[1].Memory.Format != memory.FormatSmart {
		t.Errorf("x1 format %d, want smart", items[1].Memory.Format)
	}
	if items[2].Memory.Format != memory.FormatLegacy {
		t.Errorf("x2 format %d, want the explicit legacy", items[2].Memory.Format)
	}
	if items[3].Memory.Format != memory.FormatLegacy {
		t.Errorf("x3 format %d, want legacy", items[3].Memory.Format)
	}
	x4 := items[4].Memory
	if x4.Format != memory.FormatSmart || x4.Category != memory.CategoryDecision || x4.Scope != "project:x" ||
		fmt.Sprint(x4.Metadata["k"]) != "[1 two]" {
		t.Errorf("x4: %+v", x4)
	}
	if x := items[5].Memory; x.Scope != memory.GlobalScope || x.Importance != 0.7 || len(x.Metadata) != 0 || items[5].HasVector {
		t.Errorf("x5: %+v", x)
	}
	if x := items[6]; x.HasVector || x.Memory.Vector != nil || x.Memory.CreatedAt != 5 || x.Memory.UpdatedAt != 9 || x.Memory.Revision != 4 {
		t.Errorf("x6: %+v", x)
	}
	if items[7].Memory.ID != "" {
		t.Errorf("empty id kept: %q", items[7].Memory.ID)
	}
	if x := items[8].Memory; x.CreatedAt != 1717000000000 || x.UpdatedAt != x.CreatedAt {
		t.Errorf("x7 times %d %d", x.CreatedAt, x.UpdatedAt)
	}
}

func TestDecodeLinesAndPositions(t *testing.T) {
	// BOM, CRLF, blank lines and a long vector line.
	vec := make([]string, 4096)
	for i := range vec {
		vec[i] = fmt.Sprintf("%.7f", 0.0001*float64(i+1))
	}
	long := `{"id":"v","text":"long vector","vector":[` + strings.Join(vec, ",") + `]}`
	data := "\xef\xbb\xbf\r\n" + goodRow + "\r\n\r\n   \n" + long + "\r\n" + goodRow3
	items, format, err := decodeAll(t, data)
	if err != nil || format != FormatTroveJSONL {
		t.Fatalf("Decode: %v %q", err, format)
	}
	if len(items) != 3 {
		t.Fatalf("%d items", len(items))
	}
	for i, want := range []string{"line 2", "line 5", "line 6"} {
		if items[i].Err != nil {
			t.Fatalf("%v", items[i].Err)
		}
		if items[i].Pos != want {
			t.Errorf("item %d Pos %q, want %q", i, items[i].Pos, want)
		}
	}
	if !items[1].HasVector || len(items[1].Memory.Vector) != 4096 || items[1].Memory.Vector[4095] != float32(0.4096) {
		t.Errorf("long vector: has=%v len=%d", items[1].HasVector, len(items[1].Memory.Vector))
	}
}

func TestDecodeLineTooLong(t *testing.T) {
	defer func(n int) { maxRowBytes = n }(maxRowBytes)
	maxRowBytes = 150
	data := goodRow + "\n" + `{"id":"b","text":"` + strings.Repeat("y", 200) + `"}` + "\n" + goodRow3 + "\n"
	items, _, err := decodeAll(t, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 || items[1].Err == nil || items[0].Err != nil || items[2].Err != nil {
		t.Fatalf("items: %+v", items)
	}
	if want := "line 2: the line is longer than 150 bytes: it is not a memory"; !strings.Contains(items[1].Err.Error(), want) {
		t.Errorf("error %q, want %q", items[1].Err, want)
	}
}

func TestDecodeFileErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"empty", "", "the file is empty"},
		{"only blank lines", "\n  \n\r\n", "the file is empty"},
		{"only BOM", "\xef\xbb\xbf", "the file is empty"},
		{"plain text", "hello world\n", `line 1 is not a JSON object (it starts with "hello world"): give trove JSON Lines`},
		{"csv", "\nid,text\n1,hello\n", `line 2 is not a JSON object (it starts with "id,text")`},
		{"json array", `[{"id":"a","text":"t"}]`, "line 1 is not a JSON object"},
		{"truncated before memories", "{\n  \"version\": \"1.0\",\n  \"memo", "line 1 is not a complete JSON value, and the file ends at line 3 still inside it"},
		{"damaged before memories", "{\n  \"version\": \"1.0\",\n  \"count\": 1 2,\n  \"memories\": []\n}\n", "read as one multi-line JSON document the file is invalid at line 3, column 14 (invalid character '2' after object key:value pair)"},
		{"pretty object without memories", "{\n  \"id\": \"a\",\n  \"text\": \"t\"\n}\n", "without a memories array"},
		{"memories not an array", "{\n  \"memories\": {}\n}\n", "line 1 starts a JSON object without a memories array (its memories is an object)"},
		{"damaged first line of JSON Lines", `{"id":"a","text":"cut` + "\n" + goodRow3 + "\n", "line 1 is not a complete JSON value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, _, err := decodeAll(t, tc.data)
			if err == nil {
				t.Fatalf("no error; %d items", len(items))
			}
			if len(items) != 0 {
				t.Errorf("%d items emitted before a file error", len(items))
			}
			var fe *FileError
			if !errors.As(err, &fe) || !errors.Is(err, memory.ErrInvalid) {
				t.Errorf("error %T is not a *FileError wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n  %s\nwant it to contain\n  %s", err, tc.want)
			}
		})
	}
}

func TestDecodeOneLineExportFollowedByRows(t *testing.T) {
	// An object with a memories array is the lancedb-pro format only when
	// nothing follows it; otherwise the file is JSON Lines.
	one := `{"version":"1.0","memories":[{"id":"a","text":"t","timestamp":1717000000}]}`
	items, format, err := decodeAll(t, one+"\n\n")
	if err != nil || format != FormatLanceDBPro || len(items) != 1 || items[0].Pos != "memories[0]" || items[0].Err != nil {
		t.Fatalf("one-line export: %v %q %+v", err, format, items)
	}
	if items[0].Memory.CreatedAt != 1717000000000 {
		t.Errorf("seconds not converted: %d", items[0].Memory.CreatedAt)
	}
	items, format, err = decodeAll(t, one+"\n"+goodRow3+"\n")
	if err != nil || format != FormatTroveJSONL || len(items) != 2 {
		t.Fatalf("JSON Lines: %v %q %d", err, format, len(items))
	}
	if items[0].Pos != "line 1" || items[0].Err == nil || !strings.Contains(items[0].Err.Error(), "text is empty") {
		t.Errorf("line 1: %+v", items[0])
	}
	if items[1].Pos != "line 2" || items[1].Err != nil {
		t.Errorf("line 2: %+v", items[1])
	}
}

func TestDecodeLanceDBSample(t *testing.T) {
	data, err := os.ReadFile("testdata/lancedb-pro-export.json")
	if err != nil {
		t.Fatal(err)
	}
	items, format, err := decodeAll(t, string(data))
	if err != nil || format != FormatLanceDBPro {
		t.Fatalf("Decode: %v %q", err, format)
	}
	if len(items) != 28 {
		t.Fatalf("%d items, want 28", len(items))
	}
	byID := map[string]Item{}
	for i, it := range items {
		if it.Err != nil {
			t.Errorf("%v", it.Err)
		}
		if want := fmt.Sprintf("memories[%d]", i); it.Pos != want {
			t.Errorf("Pos %q, want %q", it.Pos, want)
		}
		if it.HasVector {
			t.Errorf("%s has a vector", it.Pos)
		}
		m := it.Memory
		if m.CreatedAt != m.UpdatedAt || m.Revision != 1 || m.CreatedAt < 1e12 {
			t.Errorf("%s times %d %d rev %d", it.Pos, m.CreatedAt, m.UpdatedAt, m.Revision)
		}
		byID[m.ID] = it
	}
	check := func(id string, f func(m memory.Memory) string) {
		t.Helper()
		it, ok := byID[id]
		if !ok {
			t.Fatalf("no row %s", id)
		}
		if problem := f(it.Memory); problem != "" {
			t.Errorf("%s (%s): %s", it.Pos, id, problem)
		}
	}
	check("1c7a3d4f-4e9b-4c8f-8b62-2a1d3e5f6b71", func(m memory.Memory) string { // seconds, "{}"
		if m.CreatedAt != 1717000000000 || m.Format != memory.FormatLegacy || len(m.Metadata) != 0 || m.Scope != "agent:main" {
			return fmt.Sprintf("%+v", m)
		}
		return ""
	})
	check("0b6f2c3e-3d8a-4b7e-9a51-1f0c2d4e5a60", func(m memory.Memory) string { // smart, metadata string
		if m.Format != memory.FormatSmart || m.CreatedAt != 1735689600000 || m.Metadata["tier"] != "core" ||
			m.Metadata["access_count"] != float64(12) || m.Metadata["last_accessed_at"] != float64(1736900000000) {
			return fmt.Sprintf("%+v", m)
		}
		return ""
	})
	check("2d8b4e5a-5fac-4d90-9c73-3b2e4f6a7c82", func(m memory.Memory) string { // smart, metadata object
		if m.Format != memory.FormatSmart || m.Scope != "project:x" || m.Category != memory.CategoryDecision || m.Metadata[memory.KeyL0] == nil {
			return fmt.Sprintf("%+v", m)
		}
		return ""
	})
	check("4fad6a7c-7bce-4fb2-9e95-5d4a6b8c9ea4", func(m memory.Memory) string { // reflection, unrelated keys
		if m.Category != memory.CategoryReflection || m.Format != memory.FormatLegacy || m.Metadata["reflectionVersion"] != float64(4) || m.Metadata["usedFallback"] != false {
			return fmt.Sprintf("%+v", m)
		}
		return ""
	})
	check("5abe7b8d-8cdf-40c3-8fa6-6e5b7c9dafb5", func(m memory.Memory) string { // Chinese
		if m.Text != "用户喜欢用中文交流，回答要简洁。" || m.Metadata[memory.KeyL0] != "喜欢中文、简洁的回答" || m.Format != memory.FormatSmart {
			return fmt.Sprintf("%+v", m)
		}
		return ""
	})
	check("b1a4d1e3-e235-4629-8f0c-c4e132f3051b", func(m memory.Memory) string { // importance 1
		if m.Importance != 1 {
			return fmt.Sprintf("importance %v", m.Importance)
		}
		return ""
	})
}

func TestDecodeLanceDBRowErrors(t *testing.T) {
	doc := `{
  "version": "1.0",
  "exportedAt": "2025-06-01T12:00:00.000Z",
  "count": 6,
  "filters": {"scope": "global"},
  "memories": [
    {"id": "a", "text": "good", "category": "fact", "scope": "global", "importance": 0.7, "timestamp": 1717000000, "metadata": "{}"},
    {"id": "b", "text": "bad metadata", "timestamp": 1717000000, "metadata": "{not json"},
    {"id": "c", "text": "bad category", "category": "opinion", "timestamp": 1717000000000},
    {"id": "d", "text": "bad time", "timestamp": -1},
    "not an object",
    {"id": "a", "text": "duplicate", "timestamp": 1717000000000},
    {"id": "e", "text": "caf` + "\xe9" + `", "timestamp": 1717000000000},
    {"id": "f", "text": "explicit format ignored", "format": 7, "created_at": -4, "timestamp": 1717000000000}
  ]
}`
	items, format, err := decodeAll(t, doc)
	if err != nil || format != FormatLanceDBPro {
		t.Fatalf("Decode: %v %q", err, format)
	}
	want := []string{
		"",
		"", // metadata kept under raw_metadata
		"", // category kept under original_category
		"memories[3]: timestamp -1 is negative",
		"memories[4]: a row must be a JSON object, got a string",
		`memories[5]: duplicate id "a" (first seen at memories[0])`,
		"memories[6]: invalid UTF-8 at byte",
		"",
	}
	if len(items) != len(want) {
		t.Fatalf("%d items", len(items))
	}
	for i, w := range want {
		got := ""
		if items[i].Err != nil {
			got = items[i].Err.Error()
		}
		if w == "" && got != "" || !strings.Contains(got, w) {
			t.Errorf("item %d: %q, want %q", i, got, w)
		}
	}
	if m := items[7].Memory; m.Format != memory.FormatLegacy || m.CreatedAt != 1717000000000 {
		t.Errorf("lancedb row took trove fields: %+v", m)
	}
}

func TestDecodeStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Decode(strings.NewReader(goodRow+"\n"+goodRow3+"\n"), func(Item) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err %v after %d items", err, n)
	}
}

func TestDecodeReadError(t *testing.T) {
	broken := errors.New("disk on fire")
	r := ioMulti(strings.NewReader(goodRow+"\n"), errReader{broken})
	var n int
	err := Decode(r, func(Item) error { n++; return nil })
	if !errors.Is(err, broken) || n != 1 {
		t.Fatalf("err %v after %d items", err, n)
	}
	// Inside a multi-line document: a read error, not a JSON one.
	err = Decode(ioMulti(strings.NewReader("{\n  \"memories\": [\n"), errReader{broken}), func(Item) error { return nil })
	var fe *FileError
	if !errors.Is(err, broken) || errors.As(err, &fe) {
		t.Fatalf("document: err %v", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func ioMulti(a *strings.Reader, b errReader) *multi { return &multi{a: a, b: b} }

type multi struct {
	a *strings.Reader
	b errReader
}

func (m *multi) Read(p []byte) (int, error) {
	if m.a.Len() > 0 {
		return m.a.Read(p)
	}
	return m.b.Read(p)
}

func TestDecodeTroveSample(t *testing.T) {
	data, err := os.ReadFile("testdata/trove-export.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	items, format, err := decodeAll(t, string(data))
	if err != nil || format != FormatTroveJSONL || len(items) != 5 {
		t.Fatalf("Decode: %v %q %d", err, format, len(items))
	}
	for _, it := range items {
		if it.Err != nil {
			t.Errorf("%v", it.Err)
		}
	}
	if m := items[0].Memory; m.Revision != 3 || m.UpdatedAt != 1736899200000 || m.Format != memory.FormatSmart {
		t.Errorf("line 1: %+v", m)
	}
	if items[3].Pos != "line 5" {
		t.Errorf("blank line not skipped: %q", items[3].Pos)
	}
	if !bytes.Contains(data, []byte("<always>")) || !strings.Contains(items[1].Memory.Text, "<always>") {
		t.Errorf("text with <>: %q", items[1].Memory.Text)
	}
}

// One element over maxRowBytes stops reading there: the decoder would
// otherwise hold it whole, however large.
func TestDecodeElementTooLarge(t *testing.T) {
	defer func(n int) { maxRowBytes = n }(maxRowBytes)
	maxRowBytes = 1000
	doc := "{\n  \"memories\": [\n" + strings.Repeat(`    {"text": "padding padding padding"},`+"\n", 40) +
		`    {"text": "` + strings.Repeat("z", 2000) + `"},` + "\n    {\"text\": \"end\"}\n  ]\n}\n"
	items, format, err := decodeAll(t, doc)
	var se *StopError
	if !errors.As(err, &se) || format != FormatLanceDBPro || len(items) != 40 {
		t.Fatalf("err %v, format %q, %d items", err, format, len(items))
	}
	if want := "reading stopped at memories[40]: the element starting at line 43 is longer than 1000 bytes"; !strings.Contains(err.Error(), want) {
		t.Errorf("error\n  %s\nwant it to contain\n  %s", err, want)
	}
}

// Damage a memory-lancedb-pro export has part way cannot be read past
// (encoding/json stops at a syntax error), so the rows before it come and
// a *StopError says where reading stopped; rows that are valid JSON but
// bad memories are still row errors (TestDecodeLanceDBRowErrors).
func TestDecodeStopsAtDamage(t *testing.T) {
	sample, err := os.ReadFile("testdata/lancedb-pro-export.json")
	if err != nil {
		t.Fatal(err)
	}
	half := string(sample[:len(sample)/2])
	tests := []struct {
		name  string
		data  string
		items int
		want  string
	}{
		{"truncated export", half, strings.Count(half, `"timestamp"`) - 1, "the file ends at line"},
		{"truncated between rows", "{\"memories\": [\n" + goodRow + ",\n" + goodRow3 + ",\n", 2, "reading stopped at memories[2]: the file ends at line 3 inside the memories array, so it is truncated; the 2 rows before it were read"},
		{"truncated one-line export", `{"version":"1.0","memories":[{"id":"a","text":"t"}`, 1, "reading stopped at memories[1]: the file ends at line 1 inside the memories array, so it is truncated; the row before it was read"},
		{"damaged export", strings.Replace(string(sample), `"scope": "project:x",`, `"scope": "project:x",,`, 1), 2, "reading stopped at memories[2]: invalid JSON at line 29, column 28 (invalid character ',' looking for beginning of object key string); the 2 rows before it were read, nothing from it on: repair the file"},
		{"double comma between rows", "{\"memories\": [\n" + goodRow + ",\n  ,\n" + goodRow3 + "\n]}\n", 1, "reading stopped at memories[1]: invalid JSON at line 3, column 3 (invalid character ',' looking for beginning of value)"},
		{"export with trailing data", string(sample) + "{}\n", 28, "reading stopped at line 324: the export's JSON object ends at line 324 and more data follows"},
		{"two memories arrays", "{\"memories\": [" + goodRow + "],\n\"memories\": []}", 1, "a second memories key at line 2"},
		{"damage after the array", "{\"memories\": [" + goodRow + "],\n\"count\": 1,,}", 1, "invalid JSON at line 2, column 12"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, format, err := decodeAll(t, tc.data)
			var se *StopError
			if !errors.As(err, &se) || !errors.Is(err, memory.ErrInvalid) {
				t.Fatalf("error %T %v, want a *StopError wrapping ErrInvalid", err, err)
			}
			if format != FormatLanceDBPro || len(items) != tc.items {
				t.Errorf("format %q, %d items, want %d", format, len(items), tc.items)
			}
			for _, it := range items {
				if it.Err != nil {
					t.Errorf("%v", it.Err)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n  %s\nwant it to contain\n  %s", err, tc.want)
			}
		})
	}
}

// The examples in docs/IMPORT.md decode as the document says.
func TestImportDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/IMPORT.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```json\n")[1:]
	if len(blocks) != 2 {
		t.Fatalf("%d json blocks in docs/IMPORT.md, want 2", len(blocks))
	}
	for i, want := range []struct {
		format string
		scopes []memory.Scope
		smart  []bool
	}{
		{FormatLanceDBPro, []memory.Scope{"global", "global", "project:x"}, []bool{true, false, true}},
		{FormatTroveJSONL, []memory.Scope{"global", "project:trove", "global"}, []bool{true, false, false}},
	} {
		example, _, _ := strings.Cut(blocks[i], "```")
		items, format, err := decodeAll(t, example)
		if err != nil || format != want.format || len(items) != 3 {
			t.Fatalf("example %d: %v %q %d items", i, err, format, len(items))
		}
		for j, it := range items {
			if it.Err != nil {
				t.Fatalf("example %d: %v", i, it.Err)
			}
			if it.Memory.Scope != want.scopes[j] || (it.Memory.Format == memory.FormatSmart) != want.smart[j] {
				t.Errorf("example %d %s: scope %s format %d", i, it.Pos, it.Memory.Scope, it.Memory.Format)
			}
		}
	}
}

// TestDecodeKeeps: what memory-lancedb-pro's stores hold and trove once
// refused is kept, adjusted as docs/IMPORT.md says, and each adjustment is
// named.
func TestDecodeKeeps(t *testing.T) {
	type want struct {
		scope      memory.Scope
		cat        memory.Category
		importance float64
		created    int64
		md         string // the metadata as JSON
		adjusted   string // Item.Adjusted joined with ","
	}
	for _, tc := range []struct {
		name   string
		row    string
		legacy bool
		want   want
	}{
		{"custom scope", `{"id":"b","text":"t","scope":"shared-team","timestamp":1717000000000}`, false, want{"shared-team", "other", 0.7, 1717000000000, `{}`, ""}},
		{"reflection scope", `{"id":"b","text":"t","scope":"reflection:agent:main","category":"reflection","timestamp":1717000000000}`, false, want{"reflection:agent:main", "reflection", 0.7, 1717000000000, `{}`, ""}},
		{"null scope", `{"id":"b","text":"t","scope":null,"timestamp":1717000000000}`, false, want{"agent:fallback", "other", 0.7, 1717000000000, `{}`, "scope_defaulted"}},
		{"blank scope", `{"id":"b","text":"t","scope":"  ","timestamp":1717000000000}`, false, want{"agent:fallback", "other", 0.7, 1717000000000, `{}`, "scope_defaulted"}},
		{"unknown category", `{"id":"b","text":"t","scope":"global","category":"stress","timestamp":1717000000000}`, false, want{"global", "other", 0.7, 1717000000000, `{"original_category":"stress"}`, "category_unknown"}},
		{"category number", `{"id":"b","text":"t","scope":"global","category":3,"timestamp":1717000000000}`, false, want{"global", "other", 0.7, 1717000000000, `{"original_category":3}`, "category_unknown"}},
		{"seconds", `{"id":"b","text":"t","scope":"global","timestamp":1717000000.9}`, false, want{"global", "other", 0.7, 1717000000000, `{}`, "timestamp_seconds"}},
		{"2001 in seconds", `{"id":"b","text":"t","scope":"global","timestamp":999999999}`, false, want{"global", "other", 0.7, 999999999000, `{}`, "timestamp_seconds"}},
		{"legacy importance 5", `{"id":"b","text":"t","scope":"global","importance":5,"timestamp":1717000000000}`, true, want{"global", "other", 0.95, 1717000000000, `{}`, "importance_legacy"}},
		{"legacy importance 1", `{"id":"b","text":"t","scope":"global","importance":1,"timestamp":1717000000000}`, true, want{"global", "other", 0.2, 1717000000000, `{}`, "importance_legacy"}},
		{"legacy flag, fraction clamps", `{"id":"b","text":"t","scope":"global","importance":2.5,"timestamp":1717000000000}`, true, want{"global", "other", 1, 1717000000000, `{}`, "importance_clamped"}},
		{"importance 5 clamped", `{"id":"b","text":"t","scope":"global","importance":5,"timestamp":1717000000000}`, false, want{"global", "other", 1, 1717000000000, `{}`, "importance_clamped"}},
		{"importance negative", `{"id":"b","text":"t","scope":"global","importance":-0.5,"timestamp":1717000000000}`, false, want{"global", "other", 0, 1717000000000, `{}`, "importance_clamped"}},
		{"importance 1e400", `{"id":"b","text":"t","scope":"global","importance":1e400,"timestamp":1717000000000}`, false, want{"global", "other", 0.7, 1717000000000, `{}`, "importance_invalid"}},
		{"importance NaN string", `{"id":"b","text":"t","scope":"global","importance":"NaN","timestamp":1717000000000}`, false, want{"global", "other", 0.7, 1717000000000, `{}`, "importance_invalid"}},
		{"importance string", `{"id":"b","text":"t","scope":"global","importance":"0.8","timestamp":1717000000000}`, false, want{"global", "other", 0.8, 1717000000000, `{}`, ""}},
		{"importance boolean", `{"id":"b","text":"t","scope":"global","importance":true,"timestamp":1717000000000}`, false, want{"global", "other", 0.7, 1717000000000, `{}`, "importance_invalid"}},
		{"metadata not json", `{"id":"b","text":"t","scope":"global","metadata":"{not json","timestamp":1717000000000}`, false, want{"global", "other", 0.7, 1717000000000, `{"raw_metadata":"{not json"}`, "metadata_not_json"}},
		{"metadata array", `{"id":"b","text":"t","scope":"global","metadata":[1,2],"timestamp":1717000000000}`, false, want{"global", "other", 0.7, 1717000000000, `{"raw_metadata":[1,2]}`, "metadata_not_json"}},
		{"camelCase folded", `{"id":"b","text":"t","scope":"global","metadata":"{\"accessCount\":4,\"access_count\":2,\"lastAccessedAt\":1717000000000,\"keep\":true}","timestamp":1717000000000}`, false,
			want{"global", "other", 0.7, 1717000000000, `{"access_count":4,"keep":true,"last_accessed_at":1717000000000}`, "metadata_folded"}},
		{"last_accessed_at seconds", `{"id":"b","text":"t","scope":"global","metadata":{"last_accessed_at":1717000000},"timestamp":1717000000000}`, false,
			want{"global", "other", 0.7, 1717000000000, `{"last_accessed_at":1717000000000}`, "last_accessed_seconds"}},
		{"the issue's fourth row", `{"text":"old","scope":null,"importance":5,"metadata":"note","timestamp":1717000000}`, true,
			want{"agent:fallback", "other", 0.95, 1717000000000, `{"raw_metadata":"note"}`, "scope_defaulted,importance_legacy,timestamp_seconds,metadata_not_json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var items []Item
			err := DecodeWith(strings.NewReader(tc.row+"\n"), DecodeOptions{DefaultScope: "agent:fallback", LegacyImportance: tc.legacy}, func(it Item) error {
				items = append(items, it)
				return nil
			})
			if err != nil || len(items) != 1 {
				t.Fatalf("Decode: %v, %d items", err, len(items))
			}
			it := items[0]
			if it.Err != nil {
				t.Fatalf("row refused: %v", it.Err)
			}
			m := it.Memory
			md, _ := json.Marshal(m.Metadata)
			got := want{m.Scope, m.Category, m.Importance, m.CreatedAt, string(md), strings.Join(it.Adjusted, ",")}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
