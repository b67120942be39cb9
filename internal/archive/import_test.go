package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// seed fills s with n varied rows (vectors from the hash embedder, some
// rows updated so their revision is above 1) and returns them as stored.
func seed(t *testing.T, s store.Store, n int) []memory.Memory {
	t.Helper()
	ctx := context.Background()
	scopes := []memory.Scope{"global", "agent:main", "user:alice", "project:x", "custom:notes"}
	texts := []string{
		"prefers dark mode in every editor",
		"用户喜欢用中文交流，回答要简洁。",
		"run `go test -race ./...` before a push; a <b> & c \"quoted\"\nsecond line",
		"Alice leads the payments team",
		"emoji 🎉 and tabs\tinside",
	}
	ms := make([]memory.Memory, n)
	for i := range ms {
		m := memory.Memory{
			ID:         fmt.Sprintf("row-%05d", i),
			Text:       fmt.Sprintf("%s (#%d)", texts[i%len(texts)], i),
			Category:   memory.Categories[i%len(memory.Categories)],
			Scope:      scopes[i%len(scopes)],
			Importance: float64(i%11) / 10,
			CreatedAt:  1700000000000 + int64(i)*1000,
			Metadata:   map[string]any{"i": float64(i), "nested": map[string]any{"list": []any{"a", 1.5, true, nil}}},
		}
		if i%3 == 0 {
			m.Format = memory.FormatSmart
			m.Metadata[memory.KeyMemoryCategory] = "cases"
			m.Metadata[memory.KeyL0] = "abstract " + m.ID
			m.Metadata[memory.KeyTier] = "working"
		}
		if i%7 == 0 {
			m.Metadata = map[string]any{} // smart or legacy, empty metadata
		}
		ms[i] = m
	}
	texts2 := make([]string, n)
	for i := range ms {
		texts2[i] = ms[i].Text
	}
	vecs, err := embedding.NewHash(testDims).Embed(ctx, texts2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ms {
		ms[i].Vector = vecs[i]
	}
	res, err := store.PutMany(ctx, s, memory.Owner(), ms)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	// Bump some revisions and updated_at.
	var ps []store.Patch
	for i := 0; i < n; i += 4 {
		ps = append(ps, store.Patch{ID: ms[i].ID, Apply: func(m *memory.Memory) error {
			m.Importance = 0.95
			m.Metadata["edited"] = true
			return nil
		}})
	}
	if _, err := store.PatchMany(ctx, s, memory.Owner(), ps); err != nil {
		t.Fatal(err)
	}
	return all(t, s)
}

func exportString(t *testing.T, s store.Reader, acc memory.Access, opts ExportOptions) (string, int) {
	t.Helper()
	var buf bytes.Buffer
	n, err := Export(context.Background(), s, acc, &buf, opts)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	return buf.String(), n
}

func TestRoundTrip(t *testing.T) {
	src := openStore(t)
	want := seed(t, src, 1234)
	if got := want[0].Revision; got != 2 {
		t.Fatalf("seed: revision %d, want 2", got)
	}
	for _, withVectors := range []bool{true, false} {
		t.Run(fmt.Sprintf("vectors=%v", withVectors), func(t *testing.T) {
			data, n := exportString(t, src, memory.Owner(), ExportOptions{WithVectors: withVectors})
			if n != len(want) || strings.Count(data, "\n") != len(want) {
				t.Fatalf("exported %d rows, %d lines; want %d", n, strings.Count(data, "\n"), len(want))
			}
			if strings.Contains(data, `"vector"`) != withVectors {
				t.Fatalf("vector field present = %v", !withVectors)
			}
			dst := openStore(t)
			im := newImporter(dst)
			im.BatchSize = 100 // many batches through the pipeline
			rep := importString(t, im, data)
			if rep.Imported != len(want) || rep.Skipped != 0 || rep.Failed != 0 || rep.Format != FormatTroveJSONL {
				t.Fatalf("report %+v", rep)
			}
			got := all(t, dst)
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("row %d differs:\n got %+v\nwant %+v", i, brief(got[i]), brief(want[i]))
				}
			}
			// The copy exports to the very same bytes.
			again, _ := exportString(t, dst, memory.Owner(), ExportOptions{WithVectors: withVectors})
			if again != data {
				t.Errorf("re-export differs from the first export")
			}
		})
	}
}

// brief drops the vector for readable failure messages.
func brief(m memory.Memory) memory.Memory {
	m.Vector = m.Vector[:min(len(m.Vector), 3)]
	return m
}

func TestImportTwiceAddsNothing(t *testing.T) {
	src := openStore(t)
	want := seed(t, src, 50)
	data, _ := exportString(t, src, memory.Owner(), ExportOptions{})
	lance, err := os.ReadFile("testdata/lancedb-pro-export.json")
	if err != nil {
		t.Fatal(err)
	}
	dst := openStore(t)
	for _, f := range []struct {
		name string
		data string
		rows int
	}{{"jsonl", data, len(want)}, {"lancedb-pro", string(lance), 28}} {
		first := importString(t, newImporter(dst), f.data)
		second := importString(t, newImporter(dst), f.data)
		if first.Imported != f.rows || first.Skipped != 0 {
			t.Errorf("%s first import: %+v", f.name, first)
		}
		if second.Imported != 0 || second.Skipped != f.rows || second.Failed != 0 {
			t.Errorf("%s second import: %+v", f.name, second)
		}
	}
	if n := count(t, dst); n != len(want)+28 {
		t.Errorf("store holds %d rows, want %d", n, len(want)+28)
	}
}

func TestImportLanceDBSample(t *testing.T) {
	data, err := os.ReadFile("testdata/lancedb-pro-export.json")
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t)
	rep := importString(t, newImporter(s), string(data))
	if rep.Imported != 28 || rep.Failed != 0 || rep.Format != FormatLanceDBPro {
		t.Fatalf("report %+v", rep)
	}
	var raw struct {
		Memories []struct {
			ID        string  `json:"id"`
			Text      string  `json:"text"`
			Category  string  `json:"category"`
			Scope     string  `json:"scope"`
			Timestamp float64 `json:"timestamp"`
			Metadata  any     `json:"metadata"`
		} `json:"memories"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	hash := embedding.NewHash(testDims)
	smart := 0
	for _, r := range raw.Memories {
		m, err := s.Get(context.Background(), memory.Owner(), r.ID)
		if err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
		md, _ := r.Metadata.(map[string]any)
		if str, ok := r.Metadata.(string); ok {
			if err := json.Unmarshal([]byte(str), &md); err != nil {
				t.Fatal(err)
			}
		}
		wantTS := int64(r.Timestamp)
		if r.Timestamp < 1e11 {
			wantTS *= 1000
		}
		wantFormat := memory.FormatLegacy
		if s, _ := md["memory_category"].(string); s != "" {
			wantFormat = memory.FormatSmart
			smart++
		}
		vec, _ := hash.Embed(context.Background(), []string{r.Text})
		switch {
		case m.Text != r.Text, string(m.Category) != r.Category, string(m.Scope) != r.Scope:
			t.Errorf("%s: %+v", r.ID, brief(m))
		case m.CreatedAt != wantTS || m.UpdatedAt != wantTS || m.Revision != 1:
			t.Errorf("%s: times %d %d rev %d, want %d", r.ID, m.CreatedAt, m.UpdatedAt, m.Revision, wantTS)
		case m.Format != wantFormat:
			t.Errorf("%s: format %d, want %d", r.ID, m.Format, wantFormat)
		case !reflect.DeepEqual(m.Metadata, md):
			t.Errorf("%s: metadata\n got %v\nwant %v", r.ID, m.Metadata, md)
		case !reflect.DeepEqual(m.Vector, vec[0]):
			t.Errorf("%s: vector is not the hash embedding of the text", r.ID)
		}
	}
	st, err := s.Stats(context.Background(), memory.Owner(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Smart != smart || smart < 10 || st.Legacy < 10 {
		t.Errorf("stats %+v, want %d smart", st, smart)
	}
	for _, sc := range []string{"global", "agent:main", "user:alice", "project:x", "custom:notes"} {
		if st.ByScope[sc] == 0 {
			t.Errorf("no rows in %s", sc)
		}
	}
}

func TestImportScopeOverride(t *testing.T) {
	data, err := os.ReadFile("testdata/lancedb-pro-export.json")
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t)
	im := newImporter(s)
	im.ScopeOverride = "project:migrated"
	// Only the override scope is writable: the rows' own scopes are not used.
	im.Access = memory.Scopes("project:migrated")
	rep := importString(t, im, string(data))
	if rep.Imported != 28 || rep.Failed != 0 {
		t.Fatalf("report %+v", rep)
	}
	st, err := s.Stats(context.Background(), memory.Owner(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.ByScope) != 1 || st.ByScope["project:migrated"] != 28 {
		t.Errorf("scopes %v", st.ByScope)
	}

	im.ScopeOverride = "bad scope"
	if _, err := im.Import(context.Background(), strings.NewReader(goodRow)); !errors.Is(err, memory.ErrInvalid) {
		t.Errorf("malformed override: %v", err)
	}
}

// TestImportBadRowChangesNothingElse imports good, bad, good for each kind
// of bad row: the good rows go in exactly, the bad one is reported with its
// position and leaves no trace.
func TestImportBadRowChangesNothingElse(t *testing.T) {
	good1 := `{"id":"g1","text":"first good row","category":"fact","scope":"user:alice","importance":0.4,"created_at":1700000000000,"updated_at":1700000001000,"revision":5,"format":1,"metadata":{"memory_category":"profile","k":"v"}}`
	good3 := `{"id":"g3","text":"third good row"}`
	vec3 := `[0.1,0.2,0.3]`
	tests := []struct {
		name, row, want string
	}{
		{"truncated", `{"id":"b","text":"cut`, "truncated or invalid JSON: unexpected end of JSON input"},
		{"invalid UTF-8", "{\"id\":\"b\",\"text\":\"\xff\"}", "invalid UTF-8"},
		{"NUL in text", `{"id":"b","text":"a\u0000"}`, "text contains a NUL byte"},
		{"wrong dimensions", `{"id":"b","text":"t","vector":` + vec3 + `}`, "vector has 3 dimensions, the store uses 384: remove the vector field to re-embed"},
		{"zero vector", `{"id":"b","text":"t","vector":[` + strings.Repeat("0,", testDims-1) + `0]}`, "vector is all zeros"},
		{"malformed scope", `{"id":"b","text":"t","scope":"agent:"}`, `scope "agent:" has an empty name`},
		{"scope with a space", `{"id":"b","text":"t","scope":"shared team"}`, `scope "shared team" contains ' '`},
		{"duplicate id", `{"id":"g1","text":"t"}`, `duplicate id "g1" (first seen at line 1)`},
		{"text too long", `{"id":"b","text":"` + strings.Repeat("é", memory.MaxTextBytes/2+1) + `"}`, "over the 32768-byte limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			im := newImporter(s)
			im.Dims = testDims
			rep := importString(t, im, good1+"\n"+tc.row+"\n"+good3+"\n")
			if rep.Imported != 2 || rep.Failed != 1 || rep.Skipped != 0 || len(rep.Errors) != 1 {
				t.Fatalf("report %+v", rep)
			}
			e := rep.Errors[0]
			if e.Pos != "line 2" || !strings.Contains(e.Error, tc.want) {
				t.Errorf("error %s, want line 2: …%s…", e, tc.want)
			}
			got := all(t, s)
			if len(got) != 2 || got[0].ID != "g1" || got[1].ID != "g3" {
				t.Fatalf("store rows %v", got)
			}
			g := got[0]
			if g.Text != "first good row" || g.Scope != "user:alice" || g.Importance != 0.4 || g.CreatedAt != 1700000000000 ||
				g.UpdatedAt != 1700000001000 || g.Revision != 5 || g.Format != memory.FormatSmart || g.Metadata["k"] != "v" || len(g.Vector) != testDims {
				t.Errorf("g1 stored as %+v", brief(g))
			}
		})
	}
}

func TestImportFileErrorsWriteNothing(t *testing.T) {
	sample, err := os.ReadFile("testdata/lancedb-pro-export.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"empty":                 "",
		"not JSON":              "id,text\n1,x\n",
		"damaged before rows":   "{\n  \"version\": 1 2,\n" + string(sample[1:]),
		"no memories array":     "{\n  \"version\": \"1.0\"\n}\n",
		"memories not an array": "{\n  \"memories\": \"none\"\n}\n",
	} {
		t.Run(name, func(t *testing.T) {
			s := openStore(t)
			emb := &fakeEmbedder{fn: func(int, []string) ([][]float32, error) {
				t.Error("embedder called for a file that is rejected whole")
				return nil, errors.New("no")
			}}
			im := &Importer{Store: s, Embedder: emb, Access: memory.Owner()}
			rep, err := im.Import(context.Background(), strings.NewReader(data))
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v, want a *FileError", err)
			}
			if rep.Imported+rep.Skipped+rep.Failed != 0 || count(t, s) != 0 {
				t.Errorf("report %+v, %d rows stored", rep, count(t, s))
			}
		})
	}
}

// A memory-lancedb-pro export damaged part way is imported up to the
// damage, the import says where it stopped, and importing the repaired
// file completes it.
func TestImportKeepsRowsBeforeDamage(t *testing.T) {
	sample, err := os.ReadFile("testdata/lancedb-pro-export.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		data     string
		imported int
		want     string
	}{
		"truncated export":       {string(sample[:len(sample)*3/4]), 21, "reading stopped at memories[21]: the file ends at line 244 inside the memories array"},
		"export + trailing junk": {string(sample) + "\n]", 28, "the export's JSON object ends at line 324 and more data follows"},
	} {
		t.Run(name, func(t *testing.T) {
			s := openStore(t)
			im := newImporter(s)
			im.BatchSize = 8 // the rows before the damage span full batches and a partial one
			rep, err := im.Import(context.Background(), strings.NewReader(tc.data))
			var se *StopError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a *StopError containing %q", err, tc.want)
			}
			if rep.Imported != tc.imported || rep.Failed != 0 || count(t, s) != tc.imported || rep.Format != FormatLanceDBPro {
				t.Fatalf("report %+v, %d rows stored, want %d imported", rep, count(t, s), tc.imported)
			}
			rep = importString(t, im, string(sample))
			if rep.Skipped != tc.imported || rep.Imported != 28-tc.imported || count(t, s) != 28 {
				t.Errorf("repaired file: report %+v", rep)
			}
		})
	}
}

// Metadata nested too deep is one bad row (naming the limit), whether
// encoding/json reads it (2,000 levels used to abort the import in
// SQLite's JSON functions) or refuses it (20,000); the rows around it are
// imported.
func TestImportDeepMetadata(t *testing.T) {
	deep := func(depth int) string {
		return strings.Repeat(`{"a":`, depth-1) + `{}` + strings.Repeat(`}`, depth-1)
	}
	for _, depth := range []int{memory.MaxMetadataDepth + 1, 1000, 2000, 20000} {
		for _, format := range []string{FormatTroveJSONL, FormatLanceDBPro, "lancedb-pro, metadata as a string"} {
			t.Run(fmt.Sprintf("%s/%d", format, depth), func(t *testing.T) {
				var data, pos string
				switch format {
				case FormatTroveJSONL:
					data = `{"id":"g1","text":"one"}` + "\n" + `{"id":"deep","text":"deep","metadata":` + deep(depth) + "}\n" + `{"id":"g3","text":"three"}` + "\n"
					pos = "line 2"
				case FormatLanceDBPro:
					if depth > 10000 {
						t.Skip("encoding/json cannot read past an element nested over 10,000 levels: reading stops there (TestDecodeStopsAtDamage)")
					}
					data = "{\n\"memories\": [\n" + `{"id":"g1","text":"one"},` + "\n" + `{"id":"deep","text":"deep","metadata":` + deep(depth) + "},\n" + `{"id":"g3","text":"three"}` + "\n]}\n"
					pos = "memories[1]"
				default:
					md, _ := json.Marshal(deep(depth))
					data = "{\n\"memories\": [\n" + `{"id":"g1","text":"one"},` + "\n" + `{"id":"deep","text":"deep","metadata":` + string(md) + "},\n" + `{"id":"g3","text":"three"}` + "\n]}\n"
					pos = "memories[1]"
				}
				s := openStore(t)
				rep := importString(t, newImporter(s), data)
				if rep.Imported != 2 || rep.Failed != 1 || count(t, s) != 2 {
					t.Fatalf("report %+v", rep)
				}
				e := rep.Errors[0]
				if want := fmt.Sprintf("%d-level limit", memory.MaxMetadataDepth); e.Pos != pos || !strings.Contains(e.Error, want) {
					t.Errorf("error %s, want %s: …%s…", e, pos, want)
				}
			})
		}
	}
}

func TestImportKeepsFileVectors(t *testing.T) {
	s := openStore(t)
	v := make([]float32, testDims)
	for i := range v {
		v[i] = float32(i%7) - 3.25
	}
	vj, _ := json.Marshal(v)
	emb := &fakeEmbedder{fn: func(_ int, texts []string) ([][]float32, error) {
		if len(texts) != 1 || texts[0] != "needs embedding" {
			t.Errorf("embedded %q", texts)
		}
		return embedding.NewHash(testDims).Embed(context.Background(), texts)
	}}
	im := &Importer{Store: s, Embedder: emb, Access: memory.Owner()}
	rep := importString(t, im, `{"id":"a","text":"has a vector","vector":`+string(vj)+"}\n"+`{"id":"b","text":"needs embedding"}`)
	if rep.Imported != 2 {
		t.Fatalf("report %+v", rep)
	}
	got := all(t, s)
	if !reflect.DeepEqual(got[0].Vector, v) {
		t.Errorf("file vector not kept")
	}
	if emb.calls.Load() != 1 {
		t.Errorf("%d embed calls, want 1", emb.calls.Load())
	}
	// Now the store has a recorded space: a file vector of other dimensions
	// is caught before the write even when Dims is not given.
	rep = importString(t, &Importer{Store: s, Embedder: emb, Access: memory.Owner()}, `{"id":"c","text":"t","vector":[1,2]}`)
	if rep.Failed != 1 || !strings.Contains(rep.Errors[0].Error, "vector has 2 dimensions, the store uses 384") {
		t.Errorf("report %+v", rep)
	}
}

func TestImportEmbedderFailureFailsOnlyItsBatch(t *testing.T) {
	var lines []string
	for i := range 10 {
		lines = append(lines, fmt.Sprintf(`{"id":"r%d","text":"row number %d"}`, i, i))
	}
	lines[7] = `{"id":"r7","text":"bad","created_at":-2}` // its own error wins
	data := strings.Join(lines, "\n")
	s := openStore(t)
	im := &Importer{Store: s, Embedder: failOn(2), Access: memory.Owner(), BatchSize: 4}
	rep := importString(t, im, data)
	// Batches: r0-r3 ok, r4-r7 embedder fails (r7 invalid anyway), r8-r9 ok.
	if rep.Imported != 6 || rep.Failed != 4 || len(rep.Errors) != 4 {
		t.Fatalf("report %+v", rep)
	}
	for i, e := range rep.Errors {
		wantPos := fmt.Sprintf("line %d", 5+i)
		if e.Pos != wantPos || e.ID != fmt.Sprintf("r%d", 4+i) {
			t.Errorf("error %d at %s (%s), want %s", i, e.Pos, e.ID, wantPos)
		}
		if i < 3 && !strings.Contains(e.Error, "embedding this row's batch failed: provider returned 503: import the file again") {
			t.Errorf("error %d: %s", i, e.Error)
		}
	}
	if !strings.Contains(rep.Errors[3].Error, "created_at -2 is negative") {
		t.Errorf("row 7: %s", rep.Errors[3].Error)
	}
	if n := count(t, s); n != 6 {
		t.Errorf("%d rows stored", n)
	}
	// Once the embedder works again, a re-import completes the file.
	rep = importString(t, &Importer{Store: s, Embedder: embedding.NewHash(testDims), Access: memory.Owner(), BatchSize: 4}, data)
	if rep.Imported != 3 || rep.Skipped != 6 || rep.Failed != 1 {
		t.Errorf("re-import %+v", rep)
	}
}

func TestImportEmbedderBadReplies(t *testing.T) {
	for name, reply := range map[string]func([]string) [][]float32{
		"too few vectors": func(texts []string) [][]float32 { return make([][]float32, len(texts)-1) },
		"NaN": func(texts []string) [][]float32 {
			out := make([][]float32, len(texts))
			for i := range out {
				out[i] = make([]float32, testDims)
				out[i][0] = float32(nan())
			}
			return out
		},
		"wrong dimensions": func(texts []string) [][]float32 {
			out := make([][]float32, len(texts))
			for i := range out {
				out[i] = []float32{1, 2}
			}
			return out
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := openStore(t)
			emb := &fakeEmbedder{fn: func(_ int, texts []string) ([][]float32, error) { return reply(texts), nil }}
			im := &Importer{Store: s, Embedder: emb, Access: memory.Owner(), Dims: testDims}
			rep := importString(t, im, goodRow+"\n"+goodRow3)
			if rep.Failed != 2 || rep.Imported != 0 || !strings.Contains(rep.Errors[0].Error, "embedding this row's batch failed: ") {
				t.Errorf("report %+v", rep)
			}
			if count(t, s) != 0 {
				t.Errorf("rows stored")
			}
		})
	}
}

func nan() float64 {
	var z float64
	return z / z
}

func TestImportScopeDenied(t *testing.T) {
	data, err := os.ReadFile("testdata/lancedb-pro-export.json")
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t)
	im := newImporter(s)
	im.Access = memory.AgentAccess("main")
	rep := importString(t, im, string(data))
	st, _ := s.Stats(context.Background(), memory.Owner(), store.Filter{})
	if rep.Imported != st.Total || rep.Imported != st.ByScope["global"]+st.ByScope["agent:main"] || rep.Failed != 28-rep.Imported {
		t.Fatalf("report %+v, stats %+v", rep, st)
	}
	for _, e := range rep.Errors {
		if !strings.HasPrefix(e.Pos, "memories[") || !strings.Contains(e.Error, "is not accessible to this caller") || e.ID == "" {
			t.Errorf("%s", e)
		}
	}
}

func TestImportDryRun(t *testing.T) {
	s := openStore(t)
	importString(t, newImporter(s), goodRow+"\n") // "a" exists
	data := goodRow + "\n" + goodRow3 + "\n" + `{"text":"no id"}` + "\n" + `{"id":"d","text":"t","scope":"user:bob"}` + "\n" +
		`{"id":"e","text":"t","created_at":-9}` + "\n" + `{"id":"f","text":"t","vector":[1,2,3]}` + "\n"
	noEmbed := &fakeEmbedder{fn: func(int, []string) ([][]float32, error) {
		t.Error("dry run embedded")
		return nil, errors.New("no")
	}}
	acc := memory.Scopes("global")
	dry := &Importer{Store: s, Embedder: noEmbed, Access: acc, DryRun: true, Dims: testDims}
	got := importString(t, dry, data)
	if count(t, s) != 1 {
		t.Fatalf("dry run wrote")
	}
	real := importString(t, &Importer{Store: s, Embedder: embedding.NewHash(testDims), Access: acc, Dims: testDims}, data)
	if !reflect.DeepEqual(got, real) {
		t.Errorf("dry run %+v\nreal run %+v", got, real)
	}
	if real.Imported != 2 || real.Skipped != 1 || real.Failed != 3 {
		t.Errorf("real %+v", real)
	}
	// A dry run needs no embedder.
	dry.Embedder = nil
	importString(t, dry, data)
}

// failingStore fails every Write after the first n.
type failingStore struct {
	store.Store
	n int
}

func (f *failingStore) Write(ctx context.Context, acc memory.Access, fn func(store.Tx) error) error {
	if f.n == 0 {
		return errors.New("disk I/O error")
	}
	f.n--
	return f.Store.Write(ctx, acc, fn)
}

func TestImportStoreFailureStops(t *testing.T) {
	s := openStore(t)
	var lines []string
	for i := range 50 {
		lines = append(lines, fmt.Sprintf(`{"id":"r%02d","text":"row %d"}`, i, i))
	}
	im := &Importer{Store: &failingStore{Store: s, n: 2}, Embedder: embedding.NewHash(testDims), Access: memory.Owner(), BatchSize: 10}
	rep, err := im.Import(context.Background(), strings.NewReader(strings.Join(lines, "\n")))
	if err == nil || !strings.Contains(err.Error(), "import batch ending at line 30: disk I/O error") {
		t.Fatalf("error %v", err)
	}
	if rep.Imported != 20 || count(t, s) != 20 {
		t.Errorf("report %+v, %d rows", rep, count(t, s))
	}
}

func TestImportCancelled(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	emb := &fakeEmbedder{fn: func(call int, texts []string) ([][]float32, error) {
		if call == 2 {
			cancel()
			return nil, context.Canceled
		}
		return embedding.NewHash(testDims).Embed(ctx, texts)
	}}
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprintf(`{"id":"r%03d","text":"row %d"}`, i, i))
	}
	im := &Importer{Store: s, Embedder: emb, Access: memory.Owner(), BatchSize: 10}
	rep, err := im.Import(ctx, strings.NewReader(strings.Join(lines, "\n")))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	if rep.Failed != 0 || rep.Imported != count(t, s) {
		t.Errorf("report %+v, %d rows", rep, count(t, s))
	}
}

func TestImportAssignsIDs(t *testing.T) {
	s := openStore(t)
	rep := importString(t, newImporter(s), `{"text":"one"}`+"\n"+`{"text":"two"}`)
	if rep.Imported != 2 {
		t.Fatalf("report %+v", rep)
	}
	got := all(t, s)
	if len(got) != 2 || len(got[0].ID) != 36 || got[0].ID == got[1].ID {
		t.Errorf("ids %q %q", got[0].ID, got[1].ID)
	}
}

func TestImportNeedsStoreAndEmbedder(t *testing.T) {
	if _, err := (&Importer{}).Import(context.Background(), strings.NewReader(goodRow)); err == nil {
		t.Error("no store: no error")
	}
	if _, err := (&Importer{Store: openStore(t)}).Import(context.Background(), strings.NewReader(goodRow)); err == nil {
		t.Error("no embedder: no error")
	}
}

func TestReportJSON(t *testing.T) {
	b, err := json.Marshal(Report{Imported: 1, Errors: []RowError{{Pos: "line 2", Error: "x"}}, Format: FormatLanceDBPro,
		Adjustments: map[string]int{AdjustScopeDefaulted: 1}, DefaultScoped: []string{"line 2"}, UndeclaredScopes: []string{"shared-team"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"imported":1,"skipped":0,"failed":0,"errors":[{"pos":"line 2","error":"x"}],"format":"lancedb-pro",` +
		`"adjustments":{"scope_defaulted":1},"default_scoped":["line 2"],"undeclared_scopes":["shared-team"]}`
	if string(b) != want {
		t.Errorf("%s\nwant %s", b, want)
	}
	s := openStore(t)
	rep := importString(t, newImporter(s), goodRow)
	if b, _ := json.Marshal(rep); !strings.Contains(string(b), `"errors":[]`) {
		t.Errorf("no errors should be [], got %s", b)
	}
}

// TestImportKeepsLegacyShapes: the four rows the issue found refused (an
// unknown category, a custom scope, a reflection scope, an old-scale
// importance with a null scope and non-JSON metadata) and the LanceDB
// exporter's JSON Lines all go in, every adjustment counted, undeclared
// scopes listed; a second import adds nothing, rows without an id
// included.
func TestImportKeepsLegacyShapes(t *testing.T) {
	s := openStore(t)
	for _, tc := range []struct {
		file       string
		format     string
		imported   int
		adjust     map[string]int
		defaulted  []string
		undeclared []string
	}{
		{"lancedb-pro-legacy-shapes.json", FormatLanceDBPro, 4,
			map[string]int{AdjustCategoryUnknown: 1, AdjustMetadataFolded: 1, AdjustLastAccessedSeconds: 1, AdjustScopeDefaulted: 1,
				AdjustImportanceLegacy: 1, AdjustTimestampSeconds: 1, AdjustMetadataNotJSON: 1},
			[]string{"memories[3]"}, []string{"shared-team"}},
		{"lancedb-export.jsonl", FormatTroveJSONL, 3,
			map[string]int{AdjustImportanceLegacy: 1, AdjustTimestampSeconds: 1, AdjustMetadataFolded: 1, AdjustScopeDefaulted: 1, AdjustIDDerived: 1},
			[]string{"line 3"}, []string{"project-x"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			im := newImporter(s)
			im.LegacyImportance = true
			im.Declared = func(sc memory.Scope) bool { return sc == "declared-elsewhere" }
			rep := importString(t, im, string(data))
			if rep.Imported != tc.imported || rep.Failed != 0 || rep.Format != tc.format {
				t.Fatalf("report %+v", rep)
			}
			if !reflect.DeepEqual(rep.Adjustments, tc.adjust) || !reflect.DeepEqual(rep.DefaultScoped, tc.defaulted) || !reflect.DeepEqual(rep.UndeclaredScopes, tc.undeclared) {
				t.Errorf("adjustments %v, defaulted %v, undeclared %v", rep.Adjustments, rep.DefaultScoped, rep.UndeclaredScopes)
			}
			again := importString(t, im, string(data))
			if again.Imported != 0 || again.Skipped != tc.imported {
				t.Errorf("second import %+v", again)
			}
		})
	}
	get := func(id string) memory.Memory {
		m, err := s.Get(context.Background(), memory.Owner(), id)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := get("9a1f0c3e-0001-4b7e-9a51-1f0c2d4e5a60"); m.Category != memory.CategoryOther || m.Metadata[KeyOriginalCategory] != "stress" {
		t.Errorf("unknown category: %+v", m)
	}
	if m := get("9a1f0c3e-0002-4b7e-9a51-1f0c2d4e5a60"); m.Scope != "shared-team" || m.Metadata["access_count"] != 3.0 || m.Metadata["last_accessed_at"] != 1735700000000.0 || m.Metadata["accessCount"] != nil {
		t.Errorf("custom scope / camelCase: %+v", m)
	}
	if m := get("9a1f0c3e-0003-4b7e-9a51-1f0c2d4e5a60"); m.Scope != "reflection:agent:main" || m.Category != memory.CategoryReflection {
		t.Errorf("reflection: %+v", m)
	}
	if m := get("9a1f0c3e-0004-4b7e-9a51-1f0c2d4e5a60"); m.Scope != "global" || m.Importance != 0.95 || m.CreatedAt != 1717000000000 || m.Metadata[KeyRawMetadata] != "user said so" {
		t.Errorf("legacy row: %+v", m)
	}
	id := NaturalID("global", "A row without an id.", 1735689600000)
	if m := get(id); m.Text != "A row without an id." {
		t.Errorf("natural id: %+v", m)
	}
}
