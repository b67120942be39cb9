package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/service"
)

// seedAged imports n memories created 100 days ago, never recalled: by the
// thresholds every working one moves to peripheral (older than 60 days,
// recalled fewer than 3 times). A fifth are peripheral already.
func seedAged(t testing.TB, e *env, n int) {
	t.Helper()
	var b strings.Builder
	at := time.Now().Add(-100 * 24 * time.Hour).UnixMilli()
	for i := range n {
		tier := "working"
		if i%5 == 0 {
			tier = "peripheral"
		}
		fmt.Fprintf(&b, `{"id":"age%05d","text":"aged memory %d about service %d","category":"fact","importance":0.4,"timestamp":%d,"metadata":{"tier":%q}}`+"\n",
			i, i, i%97, at, tier)
	}
	file := filepath.Join(t.TempDir(), "aged.jsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("import", file, "--batch-size", "1000")
}

func maintainJSON(t testing.TB, e *env, args ...string) service.MaintainOutput {
	t.Helper()
	var out service.MaintainOutput
	raw := e.ok(append([]string{"maintain", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("maintain --json: %v\n%s", err, raw)
	}
	return out
}

// `trove maintain` over thousands of rows while a live writer process
// stores and updates, and while `trove update` edits rows the pass is
// about to move: the live writer never fails, no edit is lost, every
// aged row ends peripheral (a row edited mid-pass at the latest on the
// next pass), and revisions move only by the edits.
func TestMaintainWithLiveWriter(t *testing.T) {
	e := newEnv(t)
	n := 4000
	seedAged(t, e, n)
	before := e.exportAll()

	stop := startLiveWriter(t, e, 2*time.Millisecond)
	done := make(chan service.MaintainOutput)
	go func() {
		var out service.MaintainOutput
		// Paced as while anyone writes, at a larger lock share than the
		// default so that the test stays short.
		c := e.cmd(context.Background(), "maintain", "--json", "--batch", "50", "--lock-share", "0.25")
		raw, err := c.Output()
		if err == nil {
			err = json.Unmarshal(raw, &out)
		}
		if err != nil {
			t.Errorf("maintain: %v\n%s", err, raw)
		}
		done <- out
	}()
	edited := map[string]string{}
	var first service.MaintainOutput
	for i := 0; ; i++ {
		select {
		case first = <-done:
		default:
			id := fmt.Sprintf("age%05d", n-1-(i*37)%n)
			if _, dup := edited[id]; !dup && id[len(id)-1] != '0' && id[len(id)-1] != '5' {
				text := fmt.Sprintf("edited during maintenance %d", i)
				e.ok("update", id, "--text", text)
				edited[id] = text
			}
			continue
		}
		break
	}
	lat, failed := stop()
	if failed != 0 || len(lat) == 0 {
		t.Fatalf("live writer: %d writes, %d failed", len(lat), failed)
	}
	if first.Error != "" || first.Scanned < n || first.Transitions == 0 {
		t.Fatalf("first pass: %+v", first)
	}
	second := maintainJSON(t, e)
	if second.Skipped != "" || second.Error != "" {
		t.Fatalf("second pass: %+v", second)
	}
	if first.Transitions+second.Transitions != n-n/5 {
		t.Fatalf("moved %d + %d, want %d working rows moved", first.Transitions, second.Transitions, n-n/5)
	}
	after := e.exportAll()
	for id, b := range before {
		a := after[id]
		if a.Metadata["tier"] != "peripheral" {
			t.Fatalf("%s is %v after two passes", id, a.Metadata["tier"])
		}
		want, rev := b.Text, b.Revision
		if txt, ok := edited[id]; ok {
			want, rev = txt, b.Revision+1
		}
		if a.Text != want || a.Revision != rev {
			t.Fatalf("%s: text %q revision %d, want %q revision %d (an edit lost, or a move bumped the revision)", id, a.Text, a.Revision, want, rev)
		}
	}
	if dry := maintainJSON(t, e, "--dry-run"); dry.Transitions != 0 {
		t.Fatalf("after two passes a dry run would still move %d", dry.Transitions)
	}
	t.Logf("%d rows: first pass %+v; %d edits during it (%d moved on the second pass); live writer %d writes, p99 %.1f ms",
		n, first.MaintainRun, len(edited), second.Transitions, len(lat), pct(lat, 99))

	var st struct {
		ByTier       map[string]int `json:"by_tier"`
		LastMaintain *struct {
			Scanned int `json:"scanned"`
		} `json:"last_maintain"`
	}
	if err := json.Unmarshal([]byte(e.ok("stats", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.ByTier["peripheral"] != n || st.LastMaintain == nil || st.LastMaintain.Scanned < n {
		t.Fatalf("stats: %+v", st)
	}
	e.checkStore()
}

// SIGKILL `trove maintain` at random instants: the store opens and is
// sound, rows are whole, and the next pass completes the moves.
func TestMaintainSurvivesSIGKILL(t *testing.T) {
	e := newEnv(t)
	n := 6000
	seedAged(t, e, n)
	for range kills() {
		c := e.cmd(context.Background(), "maintain", "--batch", "20")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(30+rand.IntN(300)) * time.Millisecond)
		_ = c.Process.Signal(syscall.SIGKILL)
		_ = c.Wait()
		e.checkStore()
		checkWhole(t, e)
	}
	out := maintainJSON(t, e)
	if out.Skipped != "" || out.Error != "" {
		t.Fatalf("pass after the kills: %+v", out)
	}
	for id, m := range checkWhole(t, e) {
		if m.Metadata["tier"] != "peripheral" || m.Revision != 1 {
			t.Fatalf("%s: tier %v revision %d after the pass", id, m.Metadata["tier"], m.Revision)
		}
	}
	e.checkStore()
}
