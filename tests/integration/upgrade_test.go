package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/upgrade"
)

// seedLegacy imports n legacy rows r000..r(n-1) in one process.
func seedLegacy(t testing.TB, e *env, n int) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"r%03d","text":"legacy note %03d about the billing service","category":"fact","scope":"global","importance":0.5,"created_at":%d}`+"\n",
			i, i, 1700000000000+int64(i))
	}
	path := filepath.Join(t.TempDir(), "seed.jsonl") // e.db may be a URL
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("import", path)
}

func (e *env) upgradeCmd(llm *fakeLLM, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	c := e.cmd(context.Background(), append([]string{"upgrade"}, args...)...)
	c.Env = append(c.Env, llm.env()...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	return c, &out, &errb
}

// checkNoHalfUpgrade asserts text, metadata and format agree on every row.
func checkNoHalfUpgrade(t *testing.T, rows map[string]memory.Memory) (smart int) {
	t.Helper()
	for id, m := range rows {
		md := m.Metadata
		switch m.Format {
		case memory.FormatSmart:
			smart++
			for _, k := range []string{"l0_abstract", "l1_overview", "l2_content", "memory_category", "enriched_by", "upgraded_at"} {
				if md[k] == nil || md[k] == "" {
					t.Fatalf("%s is smart but lacks %s: %v", id, k, md)
				}
			}
		case memory.FormatLegacy:
			for _, k := range []string{"l0_abstract", "enriched_by", "upgraded_at"} {
				if md[k] != nil {
					t.Fatalf("%s is legacy but has %s: %v", id, k, md)
				}
			}
		}
	}
	return smart
}

// An upgrade with a slow LLM runs while other trove processes store and
// update. Every live write succeeds, edits made during the upgrade survive
// (merged, or re-enriched when the text changed), no lock is held across an
// LLM call, and every legacy row ends upgraded.
func TestUpgradeWithLiveWriters(t *testing.T) {
	e := newEnv(t)
	const n = 24
	seedLegacy(t, e, n)
	llm := newFakeLLM(t, time.Second)

	// While r005 is with the LLM, another process changes its text; while
	// r006 is with the LLM, another process changes its importance and metadata.
	editErr := make(chan error, 2)
	llm.onText("note 005", func() {
		r := e.run("update", "r005", "--text", "note 005 rewritten during the upgrade")
		editErr <- resultErr(r)
	})
	llm.onText("note 006", func() {
		r := e.run("update", "r006", "--importance", "0.99", "--metadata", `{"edited":"during"}`)
		editErr <- resultErr(r)
	})

	up, out, errb := e.upgradeCmd(llm, "--json", "--concurrency", "8", "--batch-size", "4")
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- up.Wait() }()

	// Live writers: store new memories and bump importance of rows being
	// upgraded, until the upgrade ends.
	var mu sync.Mutex
	lastImportance := map[string]string{}
	var liveErrs []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var r result
				if i%2 == 0 {
					r = e.run("store", fmt.Sprintf("live writer %d memory %d", w, i), "--scope", "agent:live")
				} else {
					id := fmt.Sprintf("r%03d", 10+(w*7+i)%12)
					imp := fmt.Sprintf("0.%d%d", w+1, i%10)
					r = e.run("update", id, "--importance", imp)
					if r.code == 0 {
						mu.Lock()
						lastImportance[id] = imp
						mu.Unlock()
					}
				}
				if r.code != 0 {
					mu.Lock()
					liveErrs = append(liveErrs, r.err)
					mu.Unlock()
				}
			}
		}()
	}
	err := <-done
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("upgrade: %v\n%s%s", err, out, errb)
	}
	for range 2 {
		if err := <-editErr; err != nil {
			t.Fatalf("edit during the upgrade failed: %v", err)
		}
	}
	if len(liveErrs) > 0 {
		t.Fatalf("%d live writes failed, first: %s", len(liveErrs), liveErrs[0])
	}
	var rep upgrade.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	if len(rep.Errors) != 0 || rep.Requeued < 1 || rep.Merged < 1 || rep.LockAcquisition != rep.Batches {
		t.Fatalf("report %+v", rep)
	}
	// A lock held across an LLM call would be held for at least its second.
	if rep.LockHoldMS.Max >= 1000 {
		t.Fatalf("lock held %.1f ms: longer than an LLM call", rep.LockHoldMS.Max)
	}

	rows := e.exportAll()
	checkNoHalfUpgrade(t, rows)
	for i := range n {
		id := fmt.Sprintf("r%03d", i)
		if rows[id].Format != memory.FormatSmart {
			t.Errorf("%s not upgraded", id)
		}
	}
	r5, r6 := rows["r005"], rows["r006"]
	if r5.Text != "note 005 rewritten during the upgrade" || r5.Metadata["l2_content"] != r5.Text {
		t.Errorf("r005: the text edit or its enrichment was lost: %q / %v", r5.Text, r5.Metadata["l2_content"])
	}
	if r6.Importance != 0.99 || r6.Metadata["edited"] != "during" {
		t.Errorf("r006: the concurrent edit was lost: %+v", r6)
	}
	for id, imp := range lastImportance {
		if want, _ := strconv.ParseFloat(imp, 64); rows[id].Importance != want {
			t.Errorf("%s: importance %v, the last acknowledged update set %s", id, rows[id].Importance, imp)
		}
	}
	e.checkStore()
}

func resultErr(r result) error {
	if r.code != 0 {
		return fmt.Errorf("exit %d: %s", r.code, r.err)
	}
	return nil
}

// SIGKILL an upgrade at random instants: the store stays sound, no row is
// half-upgraded, and a rerun finishes.
func TestUpgradeSurvivesSIGKILL(t *testing.T) {
	e := newEnv(t)
	kills := 3
	if *long {
		kills = 50
	}
	seedLegacy(t, e, 60)
	llm := newFakeLLM(t, 60*time.Millisecond)
	for k := range kills {
		up, _, _ := e.upgradeCmd(llm, "--concurrency", "4", "--batch-size", "4")
		if err := up.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rand.IntN(250)) * time.Millisecond)
		_ = up.Process.Signal(syscall.SIGKILL)
		_ = up.Wait()
		e.checkStore()
		rows := e.exportAll()
		if len(rows) != 60 {
			t.Fatalf("kill %d: %d rows, want 60", k, len(rows))
		}
		checkNoHalfUpgrade(t, rows)
	}
	up, out, errb := e.upgradeCmd(llm, "--json")
	if err := up.Run(); err != nil {
		t.Fatalf("rerun: %v\n%s%s", err, out, errb)
	}
	rows := e.exportAll()
	if smart := checkNoHalfUpgrade(t, rows); smart != 60 {
		t.Fatalf("after the rerun %d of 60 rows are upgraded", smart)
	}
	e.checkStore()
}

// Ctrl-C commits what is enriched, prints the summary and exits non-zero.
func TestUpgradeInterrupt(t *testing.T) {
	e := newEnv(t)
	seedLegacy(t, e, 40)
	llm := newFakeLLM(t, 100*time.Millisecond)
	up, out, errb := e.upgradeCmd(llm, "--json", "--concurrency", "2", "--batch-size", "2")
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(450 * time.Millisecond)
	_ = up.Process.Signal(os.Interrupt)
	err := up.Wait()
	if err == nil {
		t.Fatal("an interrupted upgrade exited 0")
	}
	var rep upgrade.Report
	if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
		t.Fatalf("no summary after Ctrl-C: %v\n%s%s", jerr, out, errb)
	}
	smart := checkNoHalfUpgrade(t, e.exportAll())
	if !rep.Interrupted || rep.Upgraded != smart || smart == 0 || smart == 40 || !strings.Contains(errb.String(), "run trove upgrade again") {
		t.Fatalf("report %+v, %d smart rows, stderr %s", rep, smart, errb)
	}
}
