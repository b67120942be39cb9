package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/extract"
	"github.com/trove-memory/trove/internal/extract/extracttest"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
)

// captureLLM is the scripted model of the capture tests (an extracttest
// server) that answers every call delay after its script returned and
// records how many requests were in flight at once.
type captureLLM struct {
	*extracttest.Server
	inflight, maxInflight atomic.Int64
}

func newCaptureLLM(t testing.TB, delay time.Duration, script func(extracttest.Call) extracttest.Reply) *captureLLM {
	f := &captureLLM{}
	f.Server = extracttest.NewServer(t, func(c extracttest.Call) extracttest.Reply {
		n := f.inflight.Add(1)
		defer f.inflight.Add(-1)
		for m := f.maxInflight.Load(); n > m && !f.maxInflight.CompareAndSwap(m, n); m = f.maxInflight.Load() {
		}
		rep := script(c)
		time.Sleep(delay)
		return rep
	})
	return f
}

func (f *captureLLM) env(more ...string) []string {
	return append([]string{"TROVE_LLM_BASE_URL=" + f.URL, "TROVE_LLM_MODEL=fake", "TROVE_LLM_API_KEY=test-key"}, more...)
}

func candidate(cat memory.SmartCategory, abstract string) extract.Candidate {
	return extract.Candidate{Category: cat, Abstract: abstract, Overview: "- " + abstract, Content: abstract + "."}
}

// homeScript is the model of the Berlin → Paris story. It decides from
// the prompt it is shown: Paris supersedes only when the stored Berlin
// row is in the decision prompt, and a candidate is a repeat only when
// the stored row shown says the same.
func homeScript(c extracttest.Call) extracttest.Reply {
	switch c.Kind {
	case extracttest.Extract:
		var ms []extract.Candidate
		if strings.Contains(c.User, "Berlin") {
			ms = append(ms, candidate(memory.SmartEntities, "Home city: Berlin"), candidate(memory.SmartPreferences, "Drink: tea"))
		}
		if strings.Contains(c.User, "Paris") {
			ms = append(ms, candidate(memory.SmartEntities, "Home city: Paris"))
		}
		return extracttest.Reply{Content: extracttest.ExtractReply(ms...)}
	case extracttest.Decide:
		return extracttest.Reply{Content: extracttest.DecideEach(c.User, func(it extracttest.PromptItem) extracttest.Decided {
			if strings.Contains(it.Abstract, "Paris") && it.StoredContains(0, "Berlin") {
				return extracttest.Decided{Decision: extract.Supersede, Match: 1}
			}
			if it.StoredContains(0, it.Abstract) {
				return extracttest.Decided{Decision: extract.Skip, Match: 1}
			}
			return extracttest.Decided{Decision: extract.Create}
		})}
	}
	return extracttest.Reply{Status: 400, Content: "unexpected call"}
}

func userMessages(texts ...string) string {
	var ms []map[string]string
	for _, t := range texts {
		ms = append(ms, map[string]string{"role": "user", "content": t})
	}
	b, _ := json.Marshal(ms)
	return string(b)
}

func captureBody(session string, flush bool, texts ...string) string {
	return fmt.Sprintf(`{"session":%q,"flush":%t,"messages":%s}`, session, flush, userMessages(texts...))
}

func decode[T any](t testing.TB, raw string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
	return v
}

func decisionsOf(out service.CaptureOutput) string {
	var ds []string
	for _, a := range out.Actions {
		ds = append(ds, string(a.Decision))
	}
	return strings.Join(ds, ",")
}

// rowsWith returns the exported rows whose text contains s.
func rowsWith(rows map[string]memory.Memory, s string) []memory.Memory {
	var out []memory.Memory
	for _, m := range rows {
		if strings.Contains(m.Text, s) {
			out = append(out, m)
		}
	}
	return out
}

// waitFor polls cond until it holds or the generous deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The Berlin → Paris story through a served trove and the CLI, with the
// model deciding from what the prompts show it: recall answers Paris,
// as_of a time between the captures answers Berlin, the fact's history
// holds both with Paris active, and capturing the first conversation
// again adds no row.
func TestCaptureEndToEnd(t *testing.T) {
	e := newEnv(t)
	llm := newCaptureLLM(t, 0, homeScript)
	s := e.serveHTTP(t, llm.env())

	first := decode[service.CaptureOutput](t, s.must("POST", "/v1/capture", "", captureBody("s1", true, "I live in Berlin and I prefer tea."), 200).raw)
	if decisionsOf(first) != "create,create" || first.Extractor != "llm" {
		t.Fatalf("first capture: %+v", first)
	}
	between := time.Now()
	time.Sleep(20 * time.Millisecond) // the next commit is on a later millisecond
	second := decode[service.CaptureOutput](t, s.must("POST", "/v1/capture", "", captureBody("s2", true, "I moved to Paris last month."), 200).raw)
	if decisionsOf(second) != "supersede" {
		t.Fatalf("second capture: %+v\nthe decision prompts:\n%s", second, prompts(llm, extracttest.Decide))
	}

	now := decode[service.RecallOutput](t, s.must("POST", "/v1/search", "", `{"query":"where does the user live, home city"}`, 200).raw)
	if len(now.Results) == 0 || !strings.Contains(now.Results[0].Memory.Text, "Paris") {
		t.Errorf("recall now: %+v", now.Results)
	}
	for _, r := range now.Results {
		if strings.Contains(r.Memory.Text, "Berlin") {
			t.Errorf("recall returns the old home city: %+v", r.Memory)
		}
	}
	asOf := fmt.Sprintf(`{"query":"where does the user live, home city","as_of":%q}`, between.UTC().Format(time.RFC3339Nano))
	then := decode[service.RecallOutput](t, s.must("POST", "/v1/search", "", asOf, 200).raw)
	if len(then.Results) == 0 || !strings.Contains(then.Results[0].Memory.Text, "Berlin") {
		t.Errorf("recall as of %s: %+v", between.UTC().Format(time.RFC3339Nano), then.Results)
	}
	for _, r := range then.Results {
		if strings.Contains(r.Memory.Text, "Paris") {
			t.Errorf("recall as of before the move returns Paris: %+v", r.Memory)
		}
	}

	checkFacts := func(how string, out service.FactsOutput) {
		t.Helper()
		if len(out.Facts) != 2 || !strings.Contains(out.Facts[0].Memory.Text, "Paris") || !out.Facts[0].Active ||
			!strings.Contains(out.Facts[1].Memory.Text, "Berlin") || out.Facts[1].Active || out.Facts[1].ValidUntil == 0 {
			t.Errorf("facts through %s: %+v", how, out)
		}
	}
	checkFacts("REST", decode[service.FactsOutput](t, s.must("POST", "/v1/facts", "", `{"fact_key":"entities:home city","include_history":true}`, 200).raw))
	checkFacts("the CLI", decode[service.FactsOutput](t, e.ok("facts", "--key", "entities:home city", "--history", "--json")))

	before := e.exportAll()
	again := decode[service.CaptureOutput](t, s.must("POST", "/v1/capture", "", captureBody("s3", true, "I live in Berlin and I prefer tea."), 200).raw)
	if len(again.Stored) != 0 || len(again.Updated) != 0 {
		t.Errorf("capturing the first conversation again changed %+v %+v", again.Stored, again.Updated)
	}
	if after := e.exportAll(); len(after) != len(before) || len(rowsWith(after, "Berlin")) != 1 {
		t.Errorf("rows before %d, after capturing again %d (Berlin rows %d)", len(before), len(after), len(rowsWith(after, "Berlin")))
	}

	// The same story through the CLI: a capture process reads the fact
	// the server wrote and answers a repeat as a skip.
	msgs := filepath.Join(t.TempDir(), "msgs.json")
	if err := os.WriteFile(msgs, []byte(userMessages("I moved to Paris last month.")), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := e.cmd(t.Context(), "capture", "--session", "cli", "--file", msgs, "--flush", "--json")
	cli.Env = append(cli.Env, llm.env()...)
	out, err := cli.Output()
	if err != nil {
		t.Fatalf("trove capture: %v %s", err, out)
	}
	if got := decode[service.CaptureOutput](t, string(out)); len(got.Stored) != 0 {
		t.Errorf("the CLI captured Paris again: %+v", got)
	}
	checkFacts("the CLI after a CLI capture", decode[service.FactsOutput](t, e.ok("facts", "--key", "entities:home city", "--history", "--json")))
	s.stop()
	e.checkStore()
}

// Four servers on one store capture at once against a model that answers
// each call after a second: their model calls overlap (all four
// extractions are in flight together: the fake holds each until it has
// seen all four), a live writer process meanwhile never fails, the same
// statement captured by two servers at once ends as one row, and an edit
// a CLI process makes to a merge target while its merge is at the model
// survives the merge.
func TestCaptureConcurrentProcesses(t *testing.T) {
	e := newEnv(t)
	seed := decode[service.StoreOutput](t, e.ok("store", "--json", "--category", "preference", "Editor: neovim"))

	const servers = 4
	var arrived sync.WaitGroup
	arrived.Add(servers)
	var barrierOK atomic.Bool
	allIn := make(chan struct{})
	go func() { arrived.Wait(); barrierOK.Store(true); close(allIn) }()
	var editOnce sync.Once
	var editErr atomic.Value
	llm := newCaptureLLM(t, time.Second, func(c extracttest.Call) extracttest.Reply {
		switch c.Kind {
		case extracttest.Extract:
			if c.N <= servers {
				arrived.Done()
				select {
				case <-allIn:
				case <-time.After(60 * time.Second):
				}
			}
			var ms []extract.Candidate
			switch {
			case strings.Contains(c.User, "neovim"):
				ms = append(ms, candidate(memory.SmartPreferences, "Editor: neovim with lazy.nvim"))
			case strings.Contains(c.User, "green tea"):
				ms = append(ms, candidate(memory.SmartEvents, "Drank green tea without sugar at the offsite"))
			case strings.Contains(c.User, "Lisbon"):
				ms = append(ms, candidate(memory.SmartEntities, "Office city: Lisbon"))
			}
			return extracttest.Reply{Content: extracttest.ExtractReply(ms...)}
		case extracttest.Decide:
			return extracttest.Reply{Content: extracttest.DecideEach(c.User, func(it extracttest.PromptItem) extracttest.Decided {
				if strings.Contains(it.Abstract, "neovim") && it.StoredContains(0, "neovim") {
					return extracttest.Decided{Decision: extract.Merge, Match: 1}
				}
				if it.StoredContains(0, it.Abstract) {
					return extracttest.Decided{Decision: extract.Skip, Match: 1}
				}
				return extracttest.Decided{Decision: extract.Create}
			})}
		case extracttest.Merge:
			editOnce.Do(func() {
				// Another process edits the row while the model works.
				r := e.run("update", seed.ID, "--metadata", `{"pinned":true}`)
				if r.code != 0 {
					editErr.Store(fmt.Sprintf("trove update: exit %d %s%s", r.code, r.out, r.err))
				}
			})
			return extracttest.Reply{Content: extracttest.MergeReply(extract.Merged{Abstract: "Editor: neovim with lazy.nvim", Overview: "- neovim, lazy.nvim", Content: "neovim with lazy.nvim"})}
		}
		return extracttest.Reply{Status: 400, Content: "unexpected call"}
	})
	var srvs []*served
	for range servers {
		srvs = append(srvs, e.serveHTTP(t, llm.env()))
	}

	stopIdle := startLiveWriter(t, e, 20*time.Millisecond)
	time.Sleep(1500 * time.Millisecond)
	idle, idleFailed := stopIdle()
	stop := startLiveWriter(t, e, 20*time.Millisecond)

	convs := []string{
		"I use neovim with lazy.nvim these days.",
		"I drank green tea without sugar at the offsite.",
		"I drank green tea without sugar at the offsite.",
		"Our office is in Lisbon.",
	}
	outs := make([]service.CaptureOutput, servers)
	errs := make([]string, servers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := srvs[i].do("POST", "/v1/capture", "", captureBody(fmt.Sprintf("conv-%d", i), true, convs[i]))
			switch {
			case err != nil:
				errs[i] = err.Error()
			case r.status != 200:
				errs[i] = fmt.Sprintf("%d %s", r.status, r.raw)
			default:
				errs[i] = ""
				_ = json.Unmarshal([]byte(r.raw), &outs[i])
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	during, failed := stop()
	for i, err := range errs {
		if err != "" {
			t.Fatalf("capture on server %d: %s\n%s", i, err, srvs[i].log())
		}
	}
	if v := editErr.Load(); v != nil {
		t.Fatal(v)
	}

	// (a) overlap, proven by the fake: all four extractions were held
	// until each had arrived.
	if !barrierOK.Load() || llm.maxInflight.Load() < servers {
		t.Errorf("the four captures' model calls did not overlap: all arrived %v, max in flight %d", barrierOK.Load(), llm.maxInflight.Load())
	}
	// The slowest capture needs extract, decide, merge, then decide and
	// merge again after the edit: five calls of 1 s.
	t.Logf("4 concurrent captures took %s; LLM-bound ideal 5s (the merge capture's 5 calls of 1s); max model calls in flight %d; calls %d",
		wall.Round(time.Millisecond), llm.maxInflight.Load(), len(llm.History()))

	// (b) the live writer never failed.
	if failed+idleFailed != 0 || len(during) == 0 {
		t.Errorf("live writer: %d failed writes, %d writes during the captures", failed+idleFailed, len(during))
	}
	t.Logf("live writer p99: idle %.1f ms (%d writes), during the captures %.1f ms (%d writes), max %.1f ms",
		pct(idle, 99), len(idle), pct(during, 99), len(during), pct(during, 100))

	rows := e.exportAll()
	// (c) one row for the statement two servers captured at once.
	if got := rowsWith(rows, "green tea"); len(got) != 1 {
		t.Errorf("the statement captured twice at once is %d rows: %+v", len(got), got)
	}
	if d := decisionsOf(outs[1]) + "/" + decisionsOf(outs[2]); d != "create/skip" && d != "skip/create" {
		t.Errorf("the two captures of one statement decided %s", d)
	}
	// (d) the edit made while the merge was at the model survived it.
	got := rows[seed.ID]
	if got.Metadata["pinned"] != true || got.Text != "Editor: neovim with lazy.nvim" {
		t.Errorf("the concurrent edit or the merge was lost: %+v", got)
	}
	if decisionsOf(outs[0]) != "merge" || llm.Calls(extracttest.Merge) != 2 {
		t.Errorf("merge capture decided %q with %d merge calls (want merge, made again on the edited row: 2)", decisionsOf(outs[0]), llm.Calls(extracttest.Merge))
	}
	if len(rowsWith(rows, "neovim")) != 1 || len(rowsWith(rows, "Lisbon")) != 1 {
		t.Errorf("rows: %+v", rows)
	}
	for _, s := range srvs {
		s.stop()
	}
	e.checkStore()
}

// A server SIGKILLed with messages buffered (a session below
// capture.minMessages) loses nothing: restarted after the session went
// idle, its worker's first pass extracts the buffer, once; a second
// restart adds nothing.
func TestCaptureBufferSurvivesSIGKILL(t *testing.T) {
	e := newEnv(t)
	llm := newCaptureLLM(t, 0, homeScript)
	s := e.serveHTTP(t, llm.env())
	out := decode[service.CaptureOutput](t, s.must("POST", "/v1/capture", "", captureBody("k", false, "I live in Berlin and I prefer tea."), 200).raw)
	if out.State != service.CaptureBuffered || out.Buffered != 1 {
		t.Fatalf("capture below minMessages: %+v", out)
	}
	buffered := time.Now()
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	if llm.Calls(extracttest.Extract) != 0 {
		t.Fatalf("the buffer was extracted before the kill")
	}

	for time.Since(buffered) < 1500*time.Millisecond {
		time.Sleep(100 * time.Millisecond)
	}
	s = e.serveHTTP(t, llm.env("TROVE_CAPTURE_IDLE_FLUSH=1s"))
	waitFor(t, "the restarted server's worker to extract the buffer", 30*time.Second, func() bool {
		return len(rowsWith(e.exportAll(), "Berlin")) > 0
	})
	s.stop()
	checkOnce(t, e, llm, "k")

	s = e.serveHTTP(t, llm.env("TROVE_CAPTURE_IDLE_FLUSH=1s"))
	time.Sleep(2 * time.Second) // its first pass runs at start; give it time to (not) act
	s.stop()
	checkOnce(t, e, llm, "k")
	e.checkStore()
}

// A server SIGKILLed while the model works on its extraction leaves the
// messages buffered; restarted, it extracts them exactly once.
func TestCaptureSIGKILLDuringExtraction(t *testing.T) {
	e := newEnv(t)
	atModel := make(chan struct{})
	release := make(chan struct{})
	var first sync.Once
	llm := newCaptureLLM(t, 0, func(c extracttest.Call) extracttest.Reply {
		if c.Kind == extracttest.Extract && c.N == 1 {
			first.Do(func() { close(atModel) })
			<-release // until the server is dead
			return extracttest.Reply{Status: 500}
		}
		return homeScript(c)
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	s := e.serveHTTP(t, llm.env())
	done := make(chan error, 1)
	go func() {
		_, err := s.do("POST", "/v1/capture", "", captureBody("k", true, "I live in Berlin and I prefer tea."))
		done <- err
	}()
	select {
	case <-atModel:
	case <-time.After(30 * time.Second):
		t.Fatalf("the extraction never reached the model:\n%s", s.log())
	}
	killed := time.Now()
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	close(release)
	if err := <-done; err == nil {
		t.Fatalf("the capture answered though its server was killed")
	}
	if rows := e.exportAll(); len(rowsWith(rows, "Berlin")) != 0 {
		t.Fatalf("something was stored before the kill: %+v", rows)
	}

	for time.Since(killed) < 1500*time.Millisecond {
		time.Sleep(100 * time.Millisecond)
	}
	s = e.serveHTTP(t, llm.env("TROVE_CAPTURE_IDLE_FLUSH=1s"))
	waitFor(t, "the restarted server's worker to extract the buffer", 30*time.Second, func() bool {
		return len(rowsWith(e.exportAll(), "Berlin")) > 0
	})
	s.stop()
	checkOnce(t, e, llm, "k")
	if n := llm.Calls(extracttest.Extract); n != 2 {
		t.Errorf("extract calls %d, want 2 (the killed one and the one after restart)", n)
	}
	e.checkStore()
}

// An asynchronous capture whose server is SIGKILLed while the model works
// on it is resumed by the next server's worker (a job left running by a
// dead server is run again): its status ends done, with the memories
// stored once.
func TestCaptureAsyncJobSurvivesSIGKILL(t *testing.T) {
	e := newEnv(t)
	atModel := make(chan struct{})
	release := make(chan struct{})
	var first sync.Once
	llm := newCaptureLLM(t, 0, func(c extracttest.Call) extracttest.Reply {
		if c.Kind == extracttest.Extract && c.N == 1 {
			first.Do(func() { close(atModel) })
			<-release // until the server is dead
			return extracttest.Reply{Status: 500}
		}
		return homeScript(c)
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	s := e.serveHTTP(t, llm.env())
	body := fmt.Sprintf(`{"session":"a","flush":true,"async":true,"messages":%s}`, userMessages("I live in Berlin and I prefer tea."))
	job := decode[service.CaptureOutput](t, s.must("POST", "/v1/capture", "", body, 202).raw)
	if job.CaptureID == "" || job.State != service.CapturePending {
		t.Fatalf("async capture: %+v", job)
	}
	select {
	case <-atModel:
	case <-time.After(30 * time.Second):
		t.Fatalf("the worker never took the job to the model:\n%s", s.log())
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	close(release)

	s = e.serveHTTP(t, llm.env())
	var done service.CaptureOutput
	waitFor(t, "the restarted server to finish the job", 30*time.Second, func() bool {
		done = decode[service.CaptureOutput](t, s.must("GET", "/v1/capture/"+job.CaptureID, "", "", 200).raw)
		return done.State == service.CaptureDone || done.State == service.CaptureFailed
	})
	if done.State != service.CaptureDone || len(done.Stored) != 2 {
		t.Fatalf("the resumed job: %+v", done)
	}
	s.stop()
	checkOnce(t, e, llm, "a")
	e.checkStore()
}

// Two processes capture into one session at once and the first to
// commit consumes only part of what the second extracted from: the second
// must still capture its own message (the one the first never saw), not
// drop it with a "captured by another request" warning.
func TestCaptureSameSessionTwoProcesses(t *testing.T) {
	e := newEnv(t)
	aAtModel, bAtModel, aDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	wait := func(ch chan struct{}) {
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
		}
	}
	llm := newCaptureLLM(t, 0, func(c extracttest.Call) extracttest.Reply {
		if c.Kind == extracttest.Extract {
			switch c.N {
			case 1: // A, holding Berlin only: answer once B has read the buffer
				close(aAtModel)
				wait(bAtModel)
			case 2: // B, holding Berlin and neovim: answer once A committed
				close(bAtModel)
				wait(aDone)
			}
			var ms []extract.Candidate
			if strings.Contains(c.User, "Berlin") {
				ms = append(ms, candidate(memory.SmartEntities, "Home city: Berlin"))
			}
			if strings.Contains(c.User, "neovim") {
				ms = append(ms, candidate(memory.SmartPreferences, "Editor: neovim"))
			}
			return extracttest.Reply{Content: extracttest.ExtractReply(ms...)}
		}
		return homeScript(c)
	})
	dir := t.TempDir()
	start := func(name, text string) (*exec.Cmd, *bytes.Buffer) {
		f := filepath.Join(dir, name+".json")
		if err := os.WriteFile(f, []byte(userMessages(text)), 0o600); err != nil {
			t.Fatal(err)
		}
		c := e.cmd(t.Context(), "capture", "--session", "shared", "--file", f, "--flush", "--json")
		c.Env = append(c.Env, llm.env()...)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c, &out
	}
	a, aOut := start("a", "I live in Berlin.")
	wait(aAtModel)
	b, bOut := start("b", "I use neovim for everything.")
	if err := a.Wait(); err != nil {
		t.Fatalf("capture A: %v %s", err, aOut)
	}
	close(aDone)
	if err := b.Wait(); err != nil {
		t.Fatalf("capture B: %v %s", err, bOut)
	}
	t.Logf("A: %s\nB: %s", aOut, bOut)
	rows := e.exportAll()
	if n, m := len(rowsWith(rows, "Berlin")), len(rowsWith(rows, "neovim")); n != 1 || m != 1 {
		t.Errorf("Berlin rows %d, neovim rows %d, want one each", n, m)
	}
	bufferEmpty(t, e, llm, "shared")
}

// checkOnce checks the Berlin conversation was captured exactly once and
// session's buffer is empty.
func checkOnce(t *testing.T, e *env, llm *captureLLM, session string) {
	t.Helper()
	rows := e.exportAll()
	if b, tea := rowsWith(rows, "Berlin"), rowsWith(rows, "Drink: tea"); len(b) != 1 || len(tea) != 1 {
		t.Fatalf("after the restart: %d Berlin rows, %d tea rows, want one each", len(b), len(tea))
	}
	bufferEmpty(t, e, llm, session)
}

// bufferEmpty checks nothing of session is left buffered to be extracted
// again: a flush finds nothing to extract.
func bufferEmpty(t *testing.T, e *env, llm *captureLLM, session string) {
	t.Helper()
	flush := e.cmd(t.Context(), "capture", "--session", session, "--flush", "--json")
	flush.Env = append(flush.Env, llm.env()...)
	raw, err := flush.Output()
	if err != nil {
		t.Fatalf("trove capture --flush: %v %s", err, raw)
	}
	if out := decode[service.CaptureOutput](t, string(raw)); out.State != service.CaptureBuffered || out.Buffered != 0 {
		t.Fatalf("session %s still had messages buffered: a flush did %+v", session, out)
	}
}

// prompts is the user messages of the model's calls of kind, for a
// failure's message.
func prompts(llm *captureLLM, kind extracttest.Kind) string {
	var b strings.Builder
	for _, c := range llm.History() {
		if c.Kind == kind {
			fmt.Fprintf(&b, "--- %s %d\n%s\n", c.Kind, c.N, c.User)
		}
	}
	return b.String()
}
