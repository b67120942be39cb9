package integration

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/upgrade"
)

// The multi-host claims of the PostgreSQL store, with real processes: two
// "hosts" are two `trove serve` processes (REST on their own ports) and
// CLI processes, all on one fresh database.

// pgRow is what a writer knows of one of its rows from the answers it got.
type pgRow struct {
	text       string
	importance float64
	revision   int64
}

// pgHostWriter runs one writer's mixed writes over the two servers and the
// CLI, recording what every acknowledged write left; it reports each
// failed write on fail.
type pgHostWriter struct {
	t     *testing.T
	e     *env
	hosts []*served
	w     int
	rng   *rand.Rand
	rows  map[string]pgRow // this writer's rows as its acknowledged writes left them
	order []string         // ids of rows, oldest first (deleted ones removed)
	prefs []string         // ids of the shared preference it stored
	// replaced counts the values its new values replaced (as answered)
	replaced int
	fail     func(string)
	n        struct{ stores, updates, deletes, reads, prefs int }
}

// memJSON is the part of a memory a writer checks.
type memJSON struct {
	ID         string   `json:"id"`
	Text       string   `json:"text"`
	Importance float64  `json:"importance"`
	Revision   int64    `json:"revision"`
	Outcome    string   `json:"outcome"`
	Supersedes []string `json:"supersedes"`
}

// via picks where op i of the writer goes: host 0's server, host 1's, or a
// CLI process (one op in four).
func (p *pgHostWriter) via(i int) int {
	if (i+p.w)%4 == 3 {
		return 2
	}
	return (i + p.w) % 2
}

func (p *pgHostWriter) rest(host int, method, path, body string, ok int) (memJSON, bool) {
	r, err := p.hosts[host].do(method, path, "", body)
	if err != nil || r.status != ok {
		p.fail(fmt.Sprintf("writer %d: host %d %s %s %s: %v %d %s", p.w, host, method, path, body, err, r.status, r.raw))
		return memJSON{}, false
	}
	var m memJSON
	_ = json.Unmarshal([]byte(r.raw), &m)
	return m, true
}

func (p *pgHostWriter) cli(args ...string) (memJSON, bool) {
	r := p.e.run(args...)
	if r.code != 0 {
		p.fail(fmt.Sprintf("writer %d: trove %s: exit %d: %s", p.w, strings.Join(args, " "), r.code, r.err))
		return memJSON{}, false
	}
	var m memJSON
	_ = json.Unmarshal([]byte(r.out), &m)
	return m, true
}

var pgTopics = []string{"billing", "search", "deploy", "auth", "storage", "metrics"}

func (p *pgHostWriter) op(i int) {
	via := p.via(i)
	kind := i % 6
	if i%12 == 10 {
		kind = 0 // half the delete turns store: the rows grow
	}
	if len(p.order) < 2 && (kind == 1 || kind == 2 || kind == 4) {
		kind = 0 // nothing to edit yet
	}
	switch kind {
	case 0: // store a new row under its own id
		id := fmt.Sprintf("w%02d-%04d", p.w, i)
		text := fmt.Sprintf("writer %d note %d about the %s service", p.w, i, pgTopics[i%len(pgTopics)])
		var m memJSON
		var ok bool
		if via < 2 {
			m, ok = p.rest(via, "POST", "/v1/memories", fmt.Sprintf(`{"id":%q,"text":%q,"category":"fact","importance":0.5}`, id, text), 201)
		} else {
			m, ok = p.cli("store", text, "--id", id, "--category", "fact", "--importance", "0.5", "--json")
		}
		if ok {
			p.rows[id] = pgRow{text: text, importance: 0.5, revision: m.Revision}
			p.order = append(p.order, id)
			p.n.stores++
		}
	case 1: // change the text of its newest row, revision-checked
		id := p.order[len(p.order)-1]
		r := p.rows[id]
		text := r.text + ", revised"
		var m memJSON
		var ok bool
		if via < 2 {
			m, ok = p.rest(via, "PATCH", "/v1/memories/"+id, fmt.Sprintf(`{"text":%q,"expected_revision":%d}`, text, r.revision), 200)
		} else {
			m, ok = p.cli("update", id, "--text", text, "--expected-revision", fmt.Sprint(r.revision), "--json")
		}
		if ok {
			r.text, r.revision = m.Text, m.Revision
			p.rows[id] = r
			p.n.updates++
		}
	case 2: // change the importance of a random row, revision-checked
		id := p.order[p.rng.IntN(len(p.order))]
		r := p.rows[id]
		imp := float64(1+p.rng.IntN(99)) / 100
		var m memJSON
		var ok bool
		if via < 2 {
			m, ok = p.rest(via, "PATCH", "/v1/memories/"+id, fmt.Sprintf(`{"importance":%v,"expected_revision":%d}`, imp, r.revision), 200)
		} else {
			m, ok = p.cli("update", id, "--importance", fmt.Sprint(imp), "--expected-revision", fmt.Sprint(r.revision), "--json")
		}
		if ok {
			r.importance, r.revision = m.Importance, m.Revision
			p.rows[id] = r
			p.n.updates++
		}
	case 3: // read: search (the recall counts every hit) or recall-context
		q := fmt.Sprintf("note about the %s service", pgTopics[p.rng.IntN(len(pgTopics))])
		switch {
		case via == 2:
			_, _ = p.cli("search", q, "--json")
		case i%4 < 2:
			_, _ = p.rest(via, "POST", "/v1/search", fmt.Sprintf(`{"query":%q,"limit":10}`, q), 200)
		default:
			_, _ = p.rest(via, "POST", "/v1/recall-context", fmt.Sprintf(`{"prompt":%q,"agent":"w%d","session":"s%d"}`, q, p.w, p.w), 200)
		}
		p.n.reads++
	case 4: // delete a random row, revision-checked
		k := p.rng.IntN(len(p.order))
		id := p.order[k]
		r := p.rows[id]
		var ok bool
		if via < 2 {
			_, ok = p.rest(via, "DELETE", fmt.Sprintf("/v1/memories/%s?expected_revision=%d", id, r.revision), "", 200)
		} else {
			_, ok = p.cli("delete", id, "--expected-revision", fmt.Sprint(r.revision), "--json")
		}
		if ok {
			delete(p.rows, id)
			p.order = slices.Delete(p.order, k, k+1)
			p.n.deletes++
		}
	case 5: // a new value of the fact every writer states: it replaces the active one
		text := fmt.Sprintf("The team's shared editor is editor-%d-%d", p.w, i)
		md := `{"fact_key":"team.editor"}`
		var m memJSON
		var ok bool
		if via < 2 {
			m, ok = p.rest(via, "POST", "/v1/memories", fmt.Sprintf(`{"text":%q,"category":"preference","metadata":%s}`, text, md), 201)
		} else {
			m, ok = p.cli("store", text, "--category", "preference", "--metadata", md, "--json")
		}
		if ok {
			p.prefs = append(p.prefs, m.ID)
			p.replaced += len(m.Supersedes)
			p.n.prefs++
		}
	}
}

// Two hosts and the CLI, 8 writers of mixed writes (store, revision-checked
// text and importance updates and deletes, searches and recall-context that
// count recalls on everyone's rows, new values of one shared fact): no
// write fails, every row is exactly as its writer's acknowledged writes
// left it, and the shared fact has one active value.
func TestPostgresTwoHostsMixedWrites(t *testing.T) {
	e := newPGEnv(t)
	writers, per := 8, 200 // -long: the 8 × 500 of the issue (about 40 s here)
	if *long {
		per = 500
	}
	if testing.Short() {
		per = 30
	}
	e.ok("store", "The store exists before the hosts start", "--id", "seed-0000", "--category", "fact")
	hosts := []*served{e.serveHTTP(t, nil), e.serveHTTP(t, nil)}

	var failures atomic.Int64
	var mu sync.Mutex
	var firstFails []string
	fail := func(msg string) {
		failures.Add(1)
		mu.Lock()
		if len(firstFails) < 10 {
			firstFails = append(firstFails, msg)
		}
		mu.Unlock()
	}
	ws := make([]*pgHostWriter, writers)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		ws[w] = &pgHostWriter{t: t, e: e, hosts: hosts, w: w, rng: rand.New(rand.NewPCG(uint64(w), 18)), rows: map[string]pgRow{}, fail: fail}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				ws[w].op(i)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, h := range hosts {
		h.stop() // flushes its recall counts
	}
	if failures.Load() > 0 {
		t.Fatalf("%d of %d writes failed, first:\n%s", failures.Load(), writers*per, strings.Join(firstFails, "\n"))
	}

	got := e.exportAll()
	var stores, updates, deletes, reads, prefs int
	want := 1 // seed-0000
	var prefIDs []string
	replaced := 0
	for _, p := range ws {
		replaced += p.replaced
		stores, updates, deletes, reads, prefs = stores+p.n.stores, updates+p.n.updates, deletes+p.n.deletes, reads+p.n.reads, prefs+p.n.prefs
		prefIDs = append(prefIDs, p.prefs...)
		want += len(p.rows) + len(p.prefs)
		for id, r := range p.rows {
			m, ok := got[id]
			switch {
			case !ok:
				t.Errorf("%s: acknowledged and never deleted, missing", id)
			case m.Text != r.text || m.Importance != r.importance || m.Revision != r.revision:
				t.Errorf("%s: text %q importance %v revision %d; the writer's last acknowledged write left %q %v %d",
					id, m.Text, m.Importance, m.Revision, r.text, r.importance, r.revision)
			}
		}
	}
	if len(got) != want {
		t.Errorf("%d rows in the store, the acknowledged writes leave %d", len(got), want)
	}
	// The shared fact: every value is kept, exactly one is active, and
	// every other one names the row that replaced it.
	var active []string
	for _, id := range prefIDs {
		m, ok := got[id]
		if !ok {
			t.Errorf("preference %s: acknowledged, missing", id)
			continue
		}
		if memory.InvalidatedAt(m) == 0 {
			active = append(active, id)
		} else if by := memory.MetaString(m.Metadata, memory.KeySupersededBy); got[by].ID == "" {
			t.Errorf("preference %s: replaced by %q, which is not in the store", id, by)
		}
	}
	if prefs > 0 && len(active) != 1 {
		t.Errorf("the shared fact has %d active values (%v), want 1", len(active), active)
	}
	// Each new value replaced the one value active when it committed: all
	// but the first replaced exactly one (a value that missed one
	// committed meanwhile leaves two active until a later one replaces
	// both).
	if prefs > 0 && replaced != prefs-1 {
		t.Errorf("the %d values of the shared fact say they replaced %d values, want %d: some store missed a value committed meanwhile", prefs, replaced, prefs-1)
	}
	t.Logf("%d writers × %d ops over 2 servers and the CLI in %v: %d stores, %d updates, %d deletes, %d reads, %d fact values; 0 failed; %d rows checked",
		writers, per, elapsed.Round(time.Millisecond), stores, updates, deletes, reads, prefs, len(got))
}

// pgUpgradeReport runs nothing: it parses an upgrade's --json report.
func pgUpgradeReport(t *testing.T, what string, out []byte) upgrade.Report {
	t.Helper()
	var rep upgrade.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%s: report: %v\n%s", what, err, out)
	}
	return rep
}

// legacyLeft counts the rows still legacy, checking none is half upgraded.
func legacyLeft(t *testing.T, rows map[string]memory.Memory) int {
	t.Helper()
	return len(rows) - checkNoHalfUpgrade(t, rows)
}

// TestUpgradeWithLiveWriters on two hosts: an upgrade on one host while
// the other host's server and CLI processes edit the rows being upgraded.
// Every edit succeeds and survives (merged, or enriched again when the text
// changed), and every row ends upgraded.
func TestPostgresUpgradeRacingEditsOnOtherHost(t *testing.T) {
	e := newPGEnv(t)
	const n = 24
	seedLegacy(t, e, n)
	llm := newFakeLLM(t, time.Second)
	other := e.serveHTTP(t, nil) // host B

	// While r005 is with the LLM, host B's server changes its text; while
	// r006 is, a CLI process on host B changes its importance and metadata.
	editErr := make(chan error, 2)
	llm.onText("note 005", func() {
		r, err := other.do("PATCH", "/v1/memories/r005", "", `{"text":"note 005 rewritten during the upgrade"}`)
		if err == nil && r.status != 200 {
			err = fmt.Errorf("%d %s", r.status, r.raw)
		}
		editErr <- err
	})
	llm.onText("note 006", func() {
		editErr <- resultErr(e.run("update", "r006", "--importance", "0.99", "--metadata", `{"edited":"during"}`))
	})

	up, out, errb := e.upgradeCmd(llm, "--json", "--concurrency", "8", "--batch-size", "4")
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- up.Wait() }()

	var mu sync.Mutex
	lastImportance := map[string]string{}
	var liveErrs []string
	var writes atomic.Int64
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
				var err error
				if i%2 == 0 {
					var r resp
					if r, err = other.do("POST", "/v1/memories", "", fmt.Sprintf(`{"text":"live writer %d memory %d","scope":"agent:live"}`, w, i)); err == nil && r.status != 201 {
						err = fmt.Errorf("%d %s", r.status, r.raw)
					}
				} else {
					id := fmt.Sprintf("r%03d", 10+(w*7+i)%12)
					imp := fmt.Sprintf("0.%d%d", w+1, i%10)
					if w == 0 {
						var r resp
						if r, err = other.do("PATCH", "/v1/memories/"+id, "", `{"importance":`+imp+`}`); err == nil && r.status != 200 {
							err = fmt.Errorf("%d %s", r.status, r.raw)
						}
					} else {
						err = resultErr(e.run("update", id, "--importance", imp))
					}
					if err == nil {
						mu.Lock()
						lastImportance[id] = imp
						mu.Unlock()
					}
				}
				writes.Add(1)
				if err != nil {
					mu.Lock()
					liveErrs = append(liveErrs, err.Error())
					mu.Unlock()
				}
			}
		}()
	}
	err := <-done
	close(stop)
	wg.Wait()
	other.stop()
	if err != nil {
		t.Fatalf("upgrade: %v\n%s%s", err, out, errb)
	}
	for range 2 {
		if err := <-editErr; err != nil {
			t.Fatalf("edit on the other host during the upgrade failed: %v", err)
		}
	}
	if len(liveErrs) > 0 {
		t.Fatalf("%d of %d live writes on the other host failed, first: %s", len(liveErrs), writes.Load(), liveErrs[0])
	}
	rep := pgUpgradeReport(t, "upgrade", out.Bytes())
	if len(rep.Errors) != 0 || rep.Requeued < 1 || rep.Merged < 1 || rep.LockAcquisition != rep.Batches {
		t.Fatalf("report %+v", rep)
	}
	if rep.LockHoldMS.Max >= 1000 {
		t.Fatalf("a transaction held %.1f ms: longer than an LLM call", rep.LockHoldMS.Max)
	}
	rows := e.exportAll()
	checkNoHalfUpgrade(t, rows)
	for i := range n {
		if id := fmt.Sprintf("r%03d", i); rows[id].Format != memory.FormatSmart {
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
		var want float64
		fmt.Sscan(imp, &want)
		if rows[id].Importance != want {
			t.Errorf("%s: importance %v, the last acknowledged update set %s", id, rows[id].Importance, imp)
		}
	}
	t.Logf("%d live writes on the other host during the upgrade, 0 failed; report %+v", writes.Load(), rep)
}

// Two upgrades started at once on two hosts share the rows: each upgrades
// some, together they upgrade every row, and the LLM is asked about each
// row once.
func TestPostgresTwoUpgradesShareTheWork(t *testing.T) {
	e := newPGEnv(t)
	n := 120
	if *long {
		n = 600
	}
	seedLegacy(t, e, n)
	llm := newFakeLLM(t, 50*time.Millisecond) // about 1.5 s of work per host: both start within it
	type run struct {
		out, errb interface{ Bytes() []byte }
		err       error
	}
	runs := make([]run, 2)
	var wg sync.WaitGroup
	for h := range 2 {
		up, out, errb := e.upgradeCmd(llm, "--json", "--concurrency", "4", "--batch-size", "4")
		if err := up.Start(); err != nil {
			t.Fatal(err)
		}
		runs[h].out, runs[h].errb = out, errb
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[h].err = up.Wait()
		}()
	}
	wg.Wait()
	var reps [2]upgrade.Report
	for h, r := range runs {
		if r.err != nil {
			t.Fatalf("upgrade on host %d: %v\n%s%s", h, r.err, r.out.Bytes(), r.errb.Bytes())
		}
		reps[h] = pgUpgradeReport(t, fmt.Sprintf("host %d", h), r.out.Bytes())
		if len(reps[h].Errors) != 0 {
			t.Errorf("host %d: errors %+v", h, reps[h].Errors)
		}
	}
	if reps[0].Upgraded == 0 || reps[1].Upgraded == 0 || reps[0].Upgraded+reps[1].Upgraded != n {
		t.Errorf("host 0 upgraded %d, host 1 %d: want each some, %d together", reps[0].Upgraded, reps[1].Upgraded, n)
	}
	calls := llm.callsByText()
	for text, c := range calls {
		if c != 1 {
			t.Errorf("the LLM was asked %d times about %q", c, text)
		}
	}
	if len(calls) != n || llm.calls.Load() != int64(n) {
		t.Errorf("%d LLM calls about %d texts, want %d about %d", llm.calls.Load(), len(calls), n, n)
	}
	rows := e.exportAll()
	if left := legacyLeft(t, rows); left != 0 {
		t.Errorf("%d rows left legacy", left)
	}
	t.Logf("%d rows: host 0 upgraded %d in %d batches, host 1 %d in %d; %d LLM calls", n,
		reps[0].Upgraded, reps[0].Batches, reps[1].Upgraded, reps[1].Batches, llm.calls.Load())
}

// SIGKILL of one host mid-upgrade: the other host's server keeps serving
// (its writes succeed at once, before and after the kill: nothing the dead
// host held blocks them), no row is half upgraded, and a rerun on the other
// host upgrades exactly the rows left, each with one LLM call. And a second
// upgrade running beside the killed one takes over the rows it held.
func TestPostgresUpgradeHostKilled(t *testing.T) {
	e := newPGEnv(t)
	const n = 160
	seedLegacy(t, e, n)
	llm := newFakeLLM(t, 40*time.Millisecond)
	other := e.serveHTTP(t, nil) // host B

	var liveErrs []string
	var mu sync.Mutex
	var writes atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("r%03d", i%n)
			r, err := other.do("PATCH", "/v1/memories/"+id, "", fmt.Sprintf(`{"metadata":{"live":%d}}`, i))
			if err == nil && r.status != 200 {
				err = fmt.Errorf("%d %s", r.status, r.raw)
			}
			writes.Add(1)
			if err != nil {
				mu.Lock()
				liveErrs = append(liveErrs, err.Error())
				mu.Unlock()
			}
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	up, _, _ := e.upgradeCmd(llm, "--concurrency", "4", "--batch-size", "4")
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the upgrade to have made 30 LLM calls", 30*time.Second, func() bool { return llm.calls.Load() >= 30 })
	_ = up.Process.Signal(syscall.SIGKILL)
	_ = up.Wait()
	before := writes.Load()
	waitFor(t, "the other host to serve 20 more writes after the kill", 30*time.Second, func() bool { return writes.Load() >= before+20 })

	rows := e.exportAll()
	left := legacyLeft(t, rows)
	if left == 0 || left == n {
		t.Fatalf("after the kill %d of %d rows are legacy: the kill was not mid-upgrade", left, n)
	}
	callsBefore := llm.calls.Load()
	rerun, out, errb := e.upgradeCmd(llm, "--json")
	if err := rerun.Run(); err != nil {
		t.Fatalf("rerun on the other host: %v\n%s%s", err, out, errb)
	}
	rep := pgUpgradeReport(t, "rerun", out.Bytes())
	if rep.Upgraded != left || rep.LegacyFound != left || llm.calls.Load()-callsBefore != int64(left) {
		t.Errorf("rerun: %d rows left, it found %d, upgraded %d with %d LLM calls", left, rep.LegacyFound, rep.Upgraded, llm.calls.Load()-callsBefore)
	}
	close(stop)
	wg.Wait()
	other.stop()
	if len(liveErrs) > 0 {
		t.Fatalf("%d of %d writes on the other host failed, first: %s", len(liveErrs), writes.Load(), liveErrs[0])
	}
	if left := legacyLeft(t, e.exportAll()); left != 0 {
		t.Errorf("after the rerun %d rows are legacy", left)
	}
	t.Logf("killed after %d LLM calls with %d of %d rows left; the rerun upgraded them with %d calls; %d writes on the other host, 0 failed",
		callsBefore, left, n, llm.calls.Load()-callsBefore, writes.Load())
}

// Two upgrades at once, one SIGKILLed mid-batch: the survivor takes over
// the rows the dead one held (its claims went with its session) and the
// two together leave no row legacy; only the dead host's uncommitted rows
// were asked about twice.
func TestPostgresUpgradeSurvivorTakesOver(t *testing.T) {
	e := newPGEnv(t)
	const n, conc, batch = 120, 4, 4
	seedLegacy(t, e, n)
	llm := newFakeLLM(t, 40*time.Millisecond)
	victim, _, _ := e.upgradeCmd(llm, "--concurrency", fmt.Sprint(conc), "--batch-size", fmt.Sprint(batch))
	survivor, out, errb := e.upgradeCmd(llm, "--json", "--concurrency", fmt.Sprint(conc), "--batch-size", fmt.Sprint(batch))
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	if err := survivor.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the upgrades to have made 40 LLM calls", 30*time.Second, func() bool { return llm.calls.Load() >= 40 })
	_ = victim.Process.Signal(syscall.SIGKILL)
	_ = victim.Wait()
	if err := survivor.Wait(); err != nil {
		t.Fatalf("the surviving upgrade: %v\n%s%s", err, out, errb)
	}
	rep := pgUpgradeReport(t, "survivor", out.Bytes())
	rows := e.exportAll()
	if left := legacyLeft(t, rows); left != 0 {
		t.Fatalf("%d rows left legacy after the survivor finished; report %+v", left, rep)
	}
	twice := 0
	for text, c := range llm.callsByText() {
		switch {
		case c == 2:
			twice++
		case c != 1:
			t.Errorf("the LLM was asked %d times about %q", c, text)
		}
	}
	// The dead host lost at most what it had in flight: its pool's rows
	// and its uncommitted batch.
	if twice > 2*conc+batch {
		t.Errorf("%d rows were enriched twice; the killed host had at most %d in flight", twice, 2*conc+batch)
	}
	t.Logf("%d rows: the survivor upgraded %d (the rest committed by the killed host); %d rows enriched twice (the killed host's uncommitted work)", n, rep.Upgraded, twice)
}

// Recalls on two hosts count on the same rows at once, each in its own
// order (recall-context's ranking, feedback's lists in the caller's
// order): no request fails (neither host's transaction is chosen as a
// deadlock victim, or it is run again), and the counts add up exactly.
func TestPostgresRecallCountsOnTwoHosts(t *testing.T) {
	e := newPGEnv(t)
	words := []string{"alpha", "beta", "gamma", "delta"}
	var b strings.Builder
	const rows = 16
	for k := range rows {
		// Each word repeated differently per row: each prompt ranks the
		// rows in another order.
		var text []string
		for j, w := range words {
			for range 1 + (k+j*3)%4 {
				text = append(text, w)
			}
		}
		fmt.Fprintf(&b, `{"id":"rc%02d","text":"recall note %d: %s","category":"fact","scope":"global","importance":0.5}`+"\n", k, k, strings.Join(text, " "))
	}
	file := filepath.Join(t.TempDir(), "rows.jsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("import", file)
	hosts := []*served{e.serveHTTP(t, nil), e.serveHTTP(t, nil)}

	workers, per := 6, 40
	if *long {
		per = 200
	}
	var failures atomic.Int64
	var injected, unused atomic.Int64
	var mu sync.Mutex
	var firstFail string
	failed := func(msg string) {
		failures.Add(1)
		mu.Lock()
		if firstFail == "" {
			firstFail = msg
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range per {
				h := hosts[(w+i)%2]
				ws := slices.Clone(words)
				rng.Shuffle(len(ws), func(a, b int) { ws[a], ws[b] = ws[b], ws[a] })
				session := fmt.Sprintf("s%d-%d", w, i)
				body := fmt.Sprintf(`{"prompt":"which notes mention %s and %s?","limit":%d,"max_chars":20000,"min_score":0,"session":%q}`, ws[0], ws[1], rows, session)
				r, err := h.do("POST", "/v1/recall-context", "", body)
				if err != nil || r.status != 200 {
					failed(fmt.Sprintf("recall-context on host %d: %v %d %s", (w+i)%2, err, r.status, r.raw))
					continue
				}
				var out struct{ Memories []struct{ ID string } }
				_ = json.Unmarshal([]byte(r.raw), &out)
				injected.Add(int64(len(out.Memories)))
				if len(out.Memories) == 0 {
					continue
				}
				// Feedback on the other host: the ids in a random order, one used.
				ids := make([]string, len(out.Memories))
				for k, m := range out.Memories {
					ids[k] = m.ID
				}
				rng.Shuffle(len(ids), func(a, b int) { ids[a], ids[b] = ids[b], ids[a] })
				used := ids // mostly all used: unused ones get suppressed after a few reports
				if i%4 == 3 {
					used = ids[1:]
				}
				fb, _ := json.Marshal(map[string]any{"used": used, "injected": ids})
				r, err = hosts[(w+i+1)%2].do("POST", "/v1/feedback", "", string(fb))
				if err != nil || r.status != 200 {
					failed(fmt.Sprintf("feedback on host %d: %v %d %s", (w+i+1)%2, err, r.status, r.raw))
					continue
				}
				unused.Add(int64(len(ids) - len(used)))
			}
		}()
	}
	wg.Wait()
	for _, h := range hosts {
		h.stop()
	}
	if failures.Load() > 0 {
		t.Fatalf("%d requests failed, first: %s", failures.Load(), firstFail)
	}
	var gotInjected, gotBad float64
	for _, m := range e.exportAll() {
		n, _ := memory.MetaNumber(m.Metadata, memory.KeyInjectedCount)
		gotInjected += n
		bad, _ := memory.MetaNumber(m.Metadata, memory.KeyBadRecallCount)
		gotBad += bad
	}
	if int64(gotInjected) != injected.Load() {
		t.Errorf("the rows count %v injections, the answers listed %d", gotInjected, injected.Load())
	}
	if injected.Load() == 0 {
		t.Fatal("nothing was injected")
	}
	t.Logf("%d recall-context and feedback pairs over 2 hosts: %d injections counted exactly, %d unused reports (bad_recall_count now %v after resets), 0 failed",
		workers*per, injected.Load(), unused.Load(), gotBad)
}
