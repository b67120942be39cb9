package cli

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/service"
)

// trove import --default-scope and --legacy-importance reach the
// service's ImportInput, and --json prints the adjustments.
func TestImportFlags(t *testing.T) {
	e := newCLIEnv(t)
	e.stdin = `{"memories":[{"id":"a","text":"old scale, no scope","scope":null,"importance":5,"timestamp":1717000000},` +
		`{"id":"b","text":"custom scope","scope":"shared-team","category":"stress","timestamp":1717000000000}]}`
	var rep service.ImportReport
	if err := json.Unmarshal([]byte(e.ok("import", "-", "--default-scope", "custom:legacy", "--legacy-importance", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"scope_defaulted": 1, "importance_legacy": 1, "timestamp_seconds": 1, "category_unknown": 1}
	if rep.Imported != 2 || !reflect.DeepEqual(rep.Adjustments, want) || !reflect.DeepEqual(rep.DefaultScoped, []string{"memories[0]"}) ||
		!reflect.DeepEqual(rep.UndeclaredScopes, []string{"shared-team"}) {
		t.Fatalf("report %+v", rep)
	}
	var m service.Memory
	if err := json.Unmarshal([]byte(e.ok("get", "a", "--json")), &m); err != nil {
		t.Fatal(err)
	}
	if m.Scope != "custom:legacy" || m.Importance != 0.95 || m.CreatedAt != 1717000000000 {
		t.Errorf("row a: %+v", m)
	}
	if r := e.run("import", "-", "--default-scope", "bad scope"); r.code == 0 || !strings.Contains(r.err, "default scope:") {
		t.Errorf("bad --default-scope: exit %d, %s", r.code, r.err)
	}
}
