package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/extract"
	"github.com/trove-memory/trove/internal/extract/extracttest"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
)

var travellerMove = regexp.MustCompile(`traveller (\d+) moved to city (\d+)`)

// travellerScript extracts "City of traveller T: C<n>" from "traveller T
// moved to city n" and supersedes that traveller's stored value when the
// decision prompt shows it.
func travellerScript(c extracttest.Call) extracttest.Reply {
	switch c.Kind {
	case extracttest.Extract:
		var ms []extract.Candidate
		if m := travellerMove.FindStringSubmatch(c.User); m != nil {
			ms = append(ms, candidate(memory.SmartEntities, fmt.Sprintf("City of traveller %s: C%s", m[1], m[2])))
		}
		return extracttest.Reply{Content: extracttest.ExtractReply(ms...)}
	case extracttest.Decide:
		return extracttest.Reply{Content: extracttest.DecideEach(c.User, func(it extracttest.PromptItem) extracttest.Decided {
			// Other travellers' rows look alike to the hash embedder:
			// supersede only this traveller's.
			topic, _, _ := strings.Cut(it.Abstract, ":")
			for i, st := range it.Stored {
				if strings.Contains(st, topic+":") {
					return extracttest.Decided{Decision: extract.Supersede, Match: i + 1}
				}
			}
			return extracttest.Decided{Decision: extract.Create}
		})}
	}
	return extracttest.Reply{Status: 400, Content: "unexpected call"}
}

// BenchmarkCapture measures smart capture through a served trove against
// a model answering each call after 500 ms, at 1, 4 and 16 sessions
// capturing at once. Each session first stores a value of its own fact;
// every measured capture then brings a new value: extract, then decide
// (the stored value is in the prompt: supersede), N = 2 model calls. The
// ideal is the model's time alone: latency N × 500 ms, throughput
// sessions ÷ that latency.
//
//	go test -run '^$' -bench Capture -benchtime 1x ./tests/integration/
func BenchmarkCapture(b *testing.B) {
	const delay = 500 * time.Millisecond
	const rounds = 5 // captures per session per b.N
	for _, sessions := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			e := newEnv(b)
			llm := newCaptureLLM(b, delay, travellerScript)
			s := e.serveHTTP(b, llm.env())
			capture := func(traveller, city int, want string) (time.Duration, error) {
				body := fmt.Sprintf(`{"messages":%s}`, userMessages(fmt.Sprintf("Note: traveller %d moved to city %d.", traveller, city)))
				start := time.Now()
				r, err := s.do("POST", "/v1/capture", "", body)
				d := time.Since(start)
				if err != nil {
					return d, err
				}
				var out service.CaptureOutput
				if r.status != 200 || json.Unmarshal([]byte(r.raw), &out) != nil || decisionsOf(out) != want {
					return d, fmt.Errorf("capture: %d %s, want %s", r.status, r.raw, want)
				}
				return d, nil
			}
			run := func(round int, want string, lat *[]time.Duration) {
				var mu sync.Mutex
				var wg sync.WaitGroup
				for t := range sessions {
					wg.Add(1)
					go func() {
						defer wg.Done()
						d, err := capture(t, round, want)
						if err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						*lat = append(*lat, d)
						mu.Unlock()
					}()
				}
				wg.Wait()
			}
			var warm []time.Duration
			run(0, "create", &warm)
			calls0 := len(llm.History())

			var lat []time.Duration
			var mu sync.Mutex
			b.ResetTimer()
			start := time.Now()
			for n := range b.N {
				var wg sync.WaitGroup
				for t := range sessions {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for r := range rounds {
							d, err := capture(t, 1+n*rounds+r, "supersede")
							if err != nil {
								b.Error(err)
								return
							}
							mu.Lock()
							lat = append(lat, d)
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if b.Failed() || len(lat) == 0 {
				return
			}
			perCapture := float64(len(llm.History())-calls0) / float64(len(lat))
			idealLat := time.Duration(perCapture * float64(delay))
			perSec := float64(len(lat)) / elapsed.Seconds()
			idealPerSec := float64(sessions) / idealLat.Seconds()
			b.ReportMetric(pct(lat, 50), "p50-ms")
			b.ReportMetric(pct(lat, 99), "p99-ms")
			b.ReportMetric(float64(idealLat.Milliseconds()), "ideal-ms")
			b.ReportMetric(perSec, "captures/s")
			b.ReportMetric(idealPerSec, "ideal-captures/s")
			b.ReportMetric(perCapture, "llm-calls/capture")
			b.ReportMetric(float64(llm.maxInflight.Load()), "max-llm-inflight")
			fmt.Fprintf(os.Stderr, "capture sessions=%d: %d captures in %s; latency p50 %.0f ms p99 %.0f ms (ideal %d ms = %.2f calls × %s); %.2f captures/s (ideal %.2f, %.0f%%); max model calls in flight %d\n",
				sessions, len(lat), elapsed.Round(time.Millisecond), pct(lat, 50), pct(lat, 99), idealLat.Milliseconds(), perCapture, delay,
				perSec, idealPerSec, 100*perSec/idealPerSec, llm.maxInflight.Load())
			s.stop()
		})
	}
}
