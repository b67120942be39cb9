package textlang

import (
	"strings"
	"testing"
)

func TestNoise(t *testing.T) {
	for _, tc := range []struct {
		text string
		want string // reason; "" = not noise
	}{
		// Greetings.
		{"hi", Greeting},
		{"Hi!", Greeting},
		{"hello there", Greeting},
		{"Hey!", Greeting},
		{"good morning", Greeting},
		{"Good morning, team!", Greeting},
		{"Thanks, Alice.", Acknowledgement},
		{"Hi Bob", Greeting},
		{"hey, how are you?", Greeting},
		{"你好", Greeting},
		{"你好！", Greeting},
		{"大家好~", Greeting},
		{"晚安", Greeting},
		// Acknowledgements.
		{"ok", Acknowledgement},
		{"OK.", Acknowledgement},
		{"okay", Acknowledgement},
		{"thanks", Acknowledgement},
		{"Thank you so much!", Acknowledgement},
		{"got it", Acknowledgement},
		{"sure", Acknowledgement},
		{"ok, thanks!", Acknowledgement},
		{"ok , , thanks", Acknowledgement},
		{"Got it, thanks Bob 👍", Acknowledgement},
		{"yes please", Acknowledgement},
		{"谢谢", Acknowledgement},
		{"谢谢你！", Acknowledgement},
		{"好的", Acknowledgement},
		{"好的，谢谢", Acknowledgement},
		{"嗯嗯", Acknowledgement},
		{"OK，谢谢", Acknowledgement},
		// Refusals.
		{"I'm sorry, but I can't help with that.", Refusal},
		{"I’m sorry, but I can’t provide that information.", Refusal},
		{"Sorry, I cannot assist with this request.", Refusal},
		{"I am sorry but I am unable to comply.", Refusal},
		{"As an AI, I don't have personal preferences.", Refusal},
		{"As an AI language model I cannot browse the web.", Refusal},
		{"I cannot help with that.", Refusal},
		{"I can't assist you with this request", Refusal},
		{"No relevant memories found.", Refusal},
		{"抱歉，我无法提供这些信息。", Refusal},
		{"很抱歉，但我不能帮助你完成这个任务", Refusal},
		{"作为一个AI，我没有个人观点", Refusal},
		// Nothing to say.
		{"", NoWords},
		{"   ", NoWords},
		{"👍", NoWords},
		{"...", NoWords},

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
		if got := Noise(tc.text); got != tc.want {
			t.Errorf("Noise(%q) = %q; want %q", tc.text, got, tc.want)
		}
	}
}

func FuzzNoise(f *testing.F) {
	for _, s := range []string{"hi", "Hiking", "ok, thanks!", "好的，谢谢", "I'm sorry, but I can't help with that."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		switch k := Noise(s); k {
		case "", Refusal, Greeting, Acknowledgement, NoWords:
		default:
			t.Fatalf("Noise(%q) = %q, not a kind", s, k)
		}
	})
}

func TestNoiseLongText(t *testing.T) {
	long := "I'm sorry, but I can't help with that. " + strings.Repeat("Lorem ipsum dolor sit amet. ", 100)
	if why := Noise(long); why != Refusal {
		t.Errorf("long refusal: %q", why)
	}
	// Cut inside a multi-byte rune must not break the check.
	cjk := strings.Repeat("记", 2000)
	if Noise(cjk) != "" {
		t.Errorf("long CJK text is noise")
	}
	if why := Noise(strings.Repeat("👍 ", 600)); why != NoWords {
		t.Errorf("long emoji-only text: %q", why)
	}
}

// The vocabulary is the union of what capture, recall and the recall hook
// each knew: these were small talk to one of them and not to the others.
func TestNoiseUnion(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		// The recall hook's go-aheads, now noise everywhere.
		{"continue", Acknowledgement},
		{"LGTM", Acknowledgement},
		{"ok, go ahead", Acknowledgement},
		{"done", Acknowledgement},
		{"fine, do it", Acknowledgement},
		{"是的", Acknowledgement},
		{"对", Acknowledgement},
		{"继续", Acknowledgement},
		{"好的，开始吧", Acknowledgement},
		{"whats up", Greeting},
		{"goodmorning!", Greeting},
		// Still statements.
		{"continue the migration tomorrow", ""},
		{"done with the billing rewrite", ""},
		{"good coffee is at the corner shop", ""},
		{"对数据库的备份每天一次", ""},
		{"开始用 Postgres 了", ""},
	} {
		if got := Noise(tc.text); got != tc.want {
			t.Errorf("Noise(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestSystemMessage(t *testing.T) {
	for s, want := range map[string]bool{
		"HEARTBEAT check": true, "[System] compacted": true, "New session started": true, " fresh session": true,
		"the heartbeat monitor pages on-call": false, "a new session token every hour": false,
	} {
		if got := SystemMessage(s); got != want {
			t.Errorf("SystemMessage(%q) = %v, want %v", s, got, want)
		}
	}
}
