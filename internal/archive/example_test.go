package archive_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/trove-memory/trove/internal/archive"
	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

func ExampleImporter_Import() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "trove-example")
	defer os.RemoveAll(dir)
	s, err := sqlite.Open(ctx, filepath.Join(dir, "trove.db"), sqlite.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	file := `{"id":"m1","text":"prefers dark mode","category":"preference"}
{"id":"m2","text":"uses vim","importance":"high","created_at":-1}
{"text":"no id: one is derived from scope, text and time","scope":null,"category":"opinion"}
`
	im := &archive.Importer{Store: s, Embedder: embedding.NewHash(0), Access: memory.Owner()}
	rep, err := im.Import(ctx, strings.NewReader(file))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: imported %d, skipped %d, failed %d\n", rep.Format, rep.Imported, rep.Skipped, rep.Failed)
	for _, e := range rep.Errors {
		fmt.Println(e)
	}
	fmt.Println("adjusted:", rep.Adjustments)

	rep, _ = im.Import(ctx, strings.NewReader(file)) // again: nothing new
	fmt.Printf("again: imported %d, skipped %d, failed %d\n", rep.Imported, rep.Skipped, rep.Failed)

	var out strings.Builder
	n, _ := archive.Export(ctx, s, memory.Owner(), &out, archive.ExportOptions{})
	fmt.Println(n, "exported")
	// Output:
	// trove-jsonl: imported 2, skipped 0, failed 1
	// line 2: created_at -1 is negative: use unix milliseconds (since 1970-01-01)
	// adjusted: map[category_unknown:1 id_derived:1 scope_defaulted:2]
	// again: imported 0, skipped 2, failed 1
	// 2 exported
}
