package retrieve

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

func TestIsNoise(t *testing.T) {
	for _, tc := range []struct {
		text string
		want string // reason; "" = not noise
	}{
		// Greetings.
		{"hi", noiseGreeting},
		{"Hi!", noiseGreeting},
		{"hello there", noiseGreeting},
		{"Hey!", noiseGreeting},
		{"good morning", noiseGreeting},
		{"Good morning, team!", noiseGreeting},
		{"Thanks, Alice.", noiseAck},
		{"Hi Bob", noiseGreeting},
		{"hey, how are you?", noiseGreeting},
		{"你好", noiseGreeting},
		{"你好！", noiseGreeting},
		{"大家好~", noiseGreeting},
		{"晚安", noiseGreeting},
		// Acknowledgements.
		{"ok", noiseAck},
		{"OK.", noiseAck},
		{"okay", noiseAck},
		{"thanks", noiseAck},
		{"Thank you so much!", noiseAck},
		{"got it", noiseAck},
		{"sure", noiseAck},
		{"ok, thanks!", noiseAck},
		{"ok , , thanks", noiseAck},
		{"Got it, thanks Bob 👍", noiseAck},
		{"yes please", noiseAck},
		{"谢谢", noiseAck},
		{"谢谢你！", noiseAck},
		{"好的", noiseAck},
		{"好的，谢谢", noiseAck},
		{"嗯嗯", noiseAck},
		{"OK，谢谢", noiseAck},
		// Refusals.
		{"I'm sorry, but I can't help with that.", noiseRefusal},
		{"I’m sorry, but I can’t provide that information.", noiseRefusal},
		{"Sorry, I cannot assist with this request.", noiseRefusal},
		{"I am sorry but I am unable to comply.", noiseRefusal},
		{"As an AI, I don't have personal preferences.", noiseRefusal},
		{"As an AI language model I cannot browse the web.", noiseRefusal},
		{"I cannot help with that.", noiseRefusal},
		{"I can't assist you with this request", noiseRefusal},
		{"No relevant memories found.", noiseRefusal},
		{"抱歉，我无法提供这些信息。", noiseRefusal},
		{"很抱歉，但我不能帮助你完成这个任务", noiseRefusal},
		{"作为一个AI，我没有个人观点", noiseRefusal},
		// Nothing to say.
		{"", noiseEmpty},
		{"   ", noiseEmpty},
		{"👍", noiseEmpty},
		{"...", noiseEmpty},

		// Word boundaries: these say something.
		{"History of the project: started in 2024", ""},
		{"Hiking on Sundays", ""},
		{"Okinawa trip in May", ""},
		{"Thanksgiving plans: fly to Denver", ""},
		{"Hi Bob, the deploy key is in 1Password under 'prod-deploy'", ""},
		{"Hello-world service runs on port 8080", ""},
		{"Hey Jude is her favourite song", ""},
		{"OK to deploy on Fridays before 3pm", ""},
		{"No sugar in coffee", ""},
		{"Sure-fire fix: clear the build cache", ""},
		{"Greetings card shop on 5th Ave", ""},
		{"Morning run at 6am", ""},
		{"Thanks to Alice the CI is green", ""},
		{"Thanks, Alice fixed the CI", ""},
		{"ok, history", ""},
		{"Yes: the staging DB is Postgres 16", ""},
		{"k8s cluster runs on GKE", ""},
		{"42", ""},
		// A user's own "can't" is not an assistant's refusal.
		{"I'm sorry, but I can't make the Friday meeting", ""},
		{"As an AI researcher, Bob prefers PyTorch", ""},
		{"I cannot eat peanuts", ""},
		// Chinese that says something.
		{"你好，我叫张三", ""},
		{"谢谢大家帮忙搬家，周六在新家聚餐", ""},
		{"抱歉，我无法参加周五的会议", ""},
		{"好好学习", ""},
		{"可以用 vim 打开日志", ""},
	} {
		noise, why := isNoise(tc.text)
		if noise != (tc.want != "") || why != tc.want {
			t.Errorf("isNoise(%q) = %v, %q; want %q", tc.text, noise, why, tc.want)
		}
	}
}

func TestFilterNoise(t *testing.T) {
	greet, fact, gone := mkCand("g", 0.9, nil, nil), mkCand("f", 0.8, nil, nil), mkCand("x", 0.7, nil, nil)
	greet.mem.Text, fact.mem.Text, gone.mem.Text = "Hello there!", "Hiking on Sundays", "ok"
	gone.drop = "score 0.20 below the minimum 0.30"
	filterNoise([]*candidate{greet, fact, gone}, true)
	if greet.drop != "noise: greeting" {
		t.Errorf("greeting: drop %q", greet.drop)
	}
	if fact.drop != "" {
		t.Errorf("fact dropped: %q", fact.drop)
	}
	if gone.drop != "score 0.20 below the minimum 0.30" {
		t.Errorf("first reason overwritten: %q", gone.drop)
	}
	if greet.score != 0.9 || greet.trace != nil {
		t.Errorf("filter changed score or trace: %v %v", greet.score, greet.trace)
	}
}

func FuzzIsNoise(f *testing.F) {
	for _, s := range []string{"hi", "Hiking", "ok, thanks!", "好的，谢谢", "I'm sorry, but I can't help with that."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		noise, why := isNoise(s)
		if noise != (why != "") {
			t.Fatalf("isNoise(%q) = %v, %q", s, noise, why)
		}
	})
}

func TestIsNoiseLongText(t *testing.T) {
	long := "I'm sorry, but I can't help with that. " + strings.Repeat("Lorem ipsum dolor sit amet. ", 100)
	if noise, why := isNoise(long); !noise || why != noiseRefusal {
		t.Errorf("long refusal: %v %q", noise, why)
	}
	// Cut inside a multi-byte rune must not break the check.
	cjk := strings.Repeat("记", 2000)
	if noise, _ := isNoise(cjk); noise {
		t.Errorf("long CJK text is noise")
	}
	if noise, why := isNoise(strings.Repeat("👍 ", 600)); !noise || why != noiseEmpty {
		t.Errorf("long emoji-only text: %v %q", noise, why)
	}
}

// Without --debug the noise check runs only where results can come from;
// the results must be the same as with it (which checks every candidate).
func TestLazyNoiseMatchesFull(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "n.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	emb := embedding.NewHash(64)
	texts := []string{
		"Sorry, I can't help with that deploy request",
		"thanks, deploy noted",
		"ok deploy",
		"hi deploy",
		"we deploy on Tuesdays after the review",
		"the deploy script lives in tools/deploy.sh",
		"deploy keys rotate every 90 days",
		"History of the deploy pipeline: first Jenkins, then Actions",
		"deploys are frozen in December",
		"deploy",
	}
	vecs, _ := emb.Embed(ctx, texts)
	ms := make([]memory.Memory, len(texts))
	for i, text := range texts {
		ms[i] = memory.Memory{ID: fmt.Sprintf("m%02d", i), Text: text, Vector: vecs[i]}
	}
	if _, err := store.PutMany(ctx, st, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
	r := New(st, emb, nil, Options{})
	for limit := 1; limit <= len(texts); limit++ {
		ids := func(debug bool) []string {
			resp, err := r.Search(ctx, memory.Owner(), Request{Query: "deploy", Limit: limit, Debug: debug})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, res := range resp.Results {
				if noise, _ := isNoise(res.Memory.Text); noise {
					t.Fatalf("limit %d debug %v: noise %q in the results", limit, debug, res.Memory.Text)
				}
				out = append(out, res.Memory.ID)
			}
			return out
		}
		if lazy, full := ids(false), ids(true); !slices.Equal(lazy, full) {
			t.Fatalf("limit %d: without debug %v, with debug %v", limit, lazy, full)
		}
	}
}
