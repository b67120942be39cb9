package retrieve

import (
	"fmt"
	"time"

	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/vecindex"
)

// explainer records Response.Explain, stage by stage, when a request asks
// for Debug; a nil explainer records nothing, so Search calls it
// unconditionally.
type explainer struct {
	out  Explain
	last time.Time // end of the previous stage
}

func newExplainer(debug bool, r *Retriever) *explainer {
	if !debug {
		return nil
	}
	return &explainer{out: Explain{Fusion: r.fusionName()}, last: time.Now()}
}

// fusionName says how the sides are fused, for Explain.Fusion.
func (r *Retriever) fusionName() string {
	w := r.weights()
	if r.opts.Fusion == FusionRRF {
		return fmt.Sprintf("rrf (k %g): %.2f/(k + vector rank) + %.2f/(k + bm25 rank), normalised", r.opts.RRFK, w.vector, w.bm25)
	}
	return fmt.Sprintf("seed: %.2f·vector + %.2f·bm25, lifted to 0.92·bm25 for bm25 ≥ 0.75", w.vector, w.bm25)
}

// list records a candidate list (the vector or lexical side): k asked
// for, the hits' scores, the time its goroutine took, and a note (why it
// did not run or what failed).
func (e *explainer) list(name string, k int, scores []float64, took time.Duration, note string) {
	if e == nil {
		return
	}
	st := StageReport{Name: name, In: k, Out: len(scores), Ms: ms(took), Note: note}
	for i, s := range scores {
		if i == 0 || s < st.Min {
			st.Min = s
		}
		if i == 0 || s > st.Max {
			st.Max = s
		}
	}
	e.out.Stages = append(e.out.Stages, st)
	e.last = time.Now()
}

// stage records a stage over the candidates: in of them were live when it
// started, those of cs still live are its out, and the time since the
// previous stage ended is its time. The note is fmt.Sprintf(note, args...),
// formatted only with Debug.
func (e *explainer) stage(name string, in int, cs []*candidate, note string, args ...any) {
	if e == nil {
		return
	}
	now := time.Now()
	if len(args) > 0 {
		note = fmt.Sprintf(note, args...)
	}
	st := StageReport{Name: name, In: in, Ms: ms(now.Sub(e.last)), Note: note}
	for _, c := range cs {
		if c.drop != "" {
			continue
		}
		if st.Out == 0 || c.score < st.Min {
			st.Min = c.score
		}
		if st.Out == 0 || c.score > st.Max {
			st.Max = c.score
		}
		st.Out++
	}
	e.out.Stages = append(e.out.Stages, st)
	e.last = now
}

// result is the explanation, nil without Debug.
func (e *explainer) result(terms []string) *Explain {
	if e == nil {
		return nil
	}
	e.out.Expansion = terms
	return &e.out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// live counts the candidates not dropped.
func live(cs []*candidate) int {
	n := 0
	for _, c := range cs {
		if c.drop == "" {
			n++
		}
	}
	return n
}

func cosines(hs []vecindex.Hit) []float64 {
	out := make([]float64, len(hs))
	for i, h := range hs {
		out[i] = float64(h.Score)
	}
	return out
}

func bm25s(hs []store.TextHit) []float64 {
	out := make([]float64, len(hs))
	for i, h := range hs {
		out[i] = bm25Score(h.Score)
	}
	return out
}
