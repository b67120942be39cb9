package httpapi

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/version"
)

// buckets are the histogram bounds in seconds: from half a millisecond
// (a cached read) to 10 s (a write queued behind a long batch).
var buckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; last is +Inf
	sum    float64
	n      uint64
}

func newHistogram() *histogram { return &histogram{counts: make([]uint64, len(buckets)+1)} }

func (h *histogram) observe(seconds float64) {
	i, _ := slices.BinarySearch(buckets, seconds)
	h.counts[i]++
	h.sum += seconds
	h.n++
}

type pair struct{ a, b string }

// Metrics collects what /metrics shows: requests and latencies per route
// and per tool, write-lock wait and hold histograms, and rows per scope.
// It is safe for concurrent use. Start begins sampling the store's lock
// figures; Close stops it.
type Metrics struct {
	svc *service.Service // nil: requests and tools only

	mu        sync.Mutex
	requests  map[pair]uint64 // route, status
	latency   map[string]*histogram
	tools     map[pair]uint64 // tool, code
	toolTime  map[string]*histogram
	lockWait  *histogram
	lockHold  *histogram
	prevWaits []time.Duration
	prevHolds []time.Duration

	stop chan struct{}
	done chan struct{}
}

// NewMetrics returns metrics over the service's store.
func NewMetrics(svc *service.Service) *Metrics {
	m := &Metrics{svc: svc, requests: map[pair]uint64{}, latency: map[string]*histogram{}, tools: map[pair]uint64{},
		toolTime: map[string]*histogram{}, lockWait: newHistogram(), lockHold: newHistogram()}
	return m
}

// Start samples the lock figures every second, so no acquisition is missed
// between scrapes (the lock keeps only its most recent few thousand).
func (m *Metrics) Start() {
	if m.svc == nil || m.stop != nil {
		return
	}
	if _, ok := m.svc.LockFigures(); !ok {
		return
	}
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(m.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.absorbLock()
			}
		}
	}()
}

// Close stops sampling.
func (m *Metrics) Close() {
	if m.stop != nil {
		close(m.stop)
		<-m.done
		m.stop = nil
	}
}

// ObserveRequest records one HTTP request.
func (m *Metrics) ObserveRequest(route string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[pair{route, strconv.Itoa(status)}]++
	h := m.latency[route]
	if h == nil {
		h = newHistogram()
		m.latency[route] = h
	}
	h.observe(d.Seconds())
}

// ObserveTool records one MCP tool call (mcpserver.Observer).
func (m *Metrics) ObserveTool(tool, code string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tools[pair{tool, code}]++
	h := m.toolTime[tool]
	if h == nil {
		h = newHistogram()
		m.toolTime[tool] = h
	}
	h.observe(d.Seconds())
}

// absorbLock moves the lock's samples taken since the last call into the
// histograms. The lock keeps recent samples in rings written in order; a
// slot that changed (or is new) since the last look holds a new sample.
func (m *Metrics) absorbLock() {
	if m.svc == nil {
		return
	}
	snap, ok := m.svc.LockFigures()
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prevWaits = absorb(m.lockWait, m.prevWaits, snap.Waits)
	m.prevHolds = absorb(m.lockHold, m.prevHolds, snap.Holds)
}

func absorb(h *histogram, prev, cur []time.Duration) []time.Duration {
	for i, d := range cur {
		if i >= len(prev) || prev[i] != d {
			h.observe(d.Seconds())
		}
	}
	return cur
}

// write writes the Prometheus text exposition format. Row counts are the
// owner's alone: scope names and per-scope sizes are data of those scopes.
func (m *Metrics) write(ctx context.Context, w io.Writer, owner bool) error {
	m.absorbLock()
	var rows service.StatsOutput
	var rowsErr error
	if m.svc != nil {
		rows, rowsErr = m.svc.Stats(ctx, service.Caller{}, nil) // the owner's counts
	}
	var acq int64
	hasLock := false
	if m.svc != nil {
		var figures service.LockFigures
		figures, hasLock = m.svc.LockFigures()
		acq = figures.Acquisitions
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	v := version.Get()
	fmt.Fprintf(&b, "# HELP trove_build_info The running trove's version.\n# TYPE trove_build_info gauge\ntrove_build_info{version=\"%s\",commit=\"%s\",goversion=\"%s\"} 1\n",
		escape(v.Version), escape(v.Commit), escape(v.Go))

	header(&b, "trove_http_requests_total", "counter", "HTTP requests by route and status.")
	for _, k := range sortedPairs(m.requests) {
		fmt.Fprintf(&b, "trove_http_requests_total{route=\"%s\",status=\"%s\"} %d\n", escape(k.a), k.b, m.requests[k])
	}
	header(&b, "trove_http_request_duration_seconds", "histogram", "HTTP request latency by route.")
	for _, route := range slices.Sorted(maps.Keys(m.latency)) {
		writeHistogram(&b, "trove_http_request_duration_seconds", fmt.Sprintf("route=\"%s\"", escape(route)), m.latency[route])
	}
	header(&b, "trove_mcp_tool_calls_total", "counter", "MCP tool calls by tool and result code (ok or an error code).")
	for _, k := range sortedPairs(m.tools) {
		fmt.Fprintf(&b, "trove_mcp_tool_calls_total{tool=\"%s\",code=\"%s\"} %d\n", escape(k.a), escape(k.b), m.tools[k])
	}
	header(&b, "trove_mcp_tool_duration_seconds", "histogram", "MCP tool call latency by tool.")
	for _, tool := range slices.Sorted(maps.Keys(m.toolTime)) {
		writeHistogram(&b, "trove_mcp_tool_duration_seconds", fmt.Sprintf("tool=\"%s\"", escape(tool)), m.toolTime[tool])
	}
	if hasLock {
		header(&b, "trove_write_lock_acquisitions_total", "counter", "Write-lock acquisitions by this process.")
		fmt.Fprintf(&b, "trove_write_lock_acquisitions_total %d\n", acq)
		header(&b, "trove_write_lock_wait_seconds", "histogram", "Time this process waited for the cross-process write lock.")
		writeHistogram(&b, "trove_write_lock_wait_seconds", "", m.lockWait)
		header(&b, "trove_write_lock_hold_seconds", "histogram", "Time this process held the cross-process write lock.")
		writeHistogram(&b, "trove_write_lock_hold_seconds", "", m.lockHold)
	}
	if m.svc != nil {
		header(&b, "trove_store_up", "gauge", "1 when the store answered this scrape.")
		if rowsErr != nil {
			b.WriteString("trove_store_up 0\n")
		} else {
			b.WriteString("trove_store_up 1\n")
		}
		if rowsErr == nil && owner {
			header(&b, "trove_memories", "gauge", "Memories per scope.")
			for _, sc := range slices.Sorted(maps.Keys(rows.ByScope)) {
				fmt.Fprintf(&b, "trove_memories{scope=\"%s\"} %d\n", escape(sc), rows.ByScope[sc])
			}
			header(&b, "trove_memories_by_format", "gauge", "Memories by format (legacy rows await trove upgrade).")
			fmt.Fprintf(&b, "trove_memories_by_format{format=\"legacy\"} %d\ntrove_memories_by_format{format=\"smart\"} %d\n", rows.Legacy, rows.Smart)
			header(&b, "trove_memories_by_tier", "gauge", "Memories by lifecycle tier.")
			for _, tier := range []string{"core", "working", "peripheral"} {
				fmt.Fprintf(&b, "trove_memories_by_tier{tier=\"%s\"} %d\n", tier, rows.ByTier[tier])
			}
			header(&b, "trove_memories_by_state", "gauge", "Memories by governance state.")
			for _, st := range []string{"pending", "confirmed", "archived"} {
				fmt.Fprintf(&b, "trove_memories_by_state{state=\"%s\"} %d\n", st, rows.ByState[st])
			}
			header(&b, "trove_memories_by_layer", "gauge", "Memories by layer.")
			for _, l := range []string{"durable", "working", "reflection", "archive"} {
				fmt.Fprintf(&b, "trove_memories_by_layer{layer=\"%s\"} %d\n", l, rows.ByLayer[l])
			}
			if r := rows.LastMaintain; r != nil {
				for _, g := range []struct {
					name, help string
					v          float64
				}{
					{"trove_maintain_last_timestamp_seconds", "When the last maintenance pass started (unix seconds).", float64(r.StartedAt) / 1000},
					{"trove_maintain_last_duration_seconds", "How long the last maintenance pass took.", float64(r.DurationMS) / 1000},
					{"trove_maintain_last_scanned", "Memories the last maintenance pass read.", float64(r.Scanned)},
					{"trove_maintain_last_transitions", "Tier moves the last maintenance pass committed.", float64(r.Transitions)},
					{"trove_maintain_last_lock_seconds", "Write-lock time of the last maintenance pass, in all.", r.LockMS / 1000},
					{"trove_maintain_last_max_batch_seconds", "The longest write of the last maintenance pass.", r.MaxBatchMS / 1000},
				} {
					header(&b, g.name, "gauge", g.help)
					fmt.Fprintf(&b, "%s %s\n", g.name, formatFloat(g.v))
				}
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func header(b *strings.Builder, name, typ, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func writeHistogram(b *strings.Builder, name, labels string, h *histogram) {
	sep := ""
	if labels != "" {
		sep = ","
	}
	var cum uint64
	for i, le := range buckets {
		cum += h.counts[i]
		fmt.Fprintf(b, "%s_bucket{%s%sle=\"%s\"} %d\n", name, labels, sep, strconv.FormatFloat(le, 'g', -1, 64), cum)
	}
	cum += h.counts[len(buckets)]
	fmt.Fprintf(b, "%s_bucket{%s%sle=\"+Inf\"} %d\n", name, labels, sep, cum)
	brace := ""
	if labels != "" {
		brace = "{" + labels + "}"
	}
	fmt.Fprintf(b, "%s_sum%s %s\n%s_count%s %d\n", name, brace, formatFloat(h.sum), name, brace, h.n)
}

func formatFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "0"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// escape escapes a label value: backslash, double quote and newline.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func sortedPairs(m map[pair]uint64) []pair {
	ks := slices.Collect(maps.Keys(m))
	slices.SortFunc(ks, func(x, y pair) int {
		if c := strings.Compare(x.a, y.a); c != 0 {
			return c
		}
		return strings.Compare(x.b, y.b)
	})
	return ks
}
