package redact

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// fake builds a random-looking token of n characters from alphabet, the
// same for the same seed. Test keys are built at run time so the source
// holds nothing a secret scanner would flag.
func fake(seed uint64, alphabet string, n int) string {
	r := rand.New(rand.NewPCG(seed, seed*7+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	base62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b64url = base62 + "-_"
	upperD = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
)

func kinds(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Kind)
	}
	return out
}

func TestFindKinds(t *testing.T) {
	jwt := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" + "." + "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ" + "." + fake(1, b64url, 43)
	pem := "-----BEGIN RSA " + "PRIVATE KEY-----\n" + fake(2, base62, 64) + "\n" + fake(3, base62, 64) + "\n-----END RSA " + "PRIVATE KEY-----"
	tests := []struct {
		name, text, kind, secret string
	}{
		{"openai legacy", "use sk-" + fake(4, base62, 48) + " for it", OpenAIKey, "sk-" + fake(4, base62, 48)},
		{"openai project", "key: sk-proj-" + fake(5, b64url, 120), OpenAIKey, "sk-proj-" + fake(5, b64url, 120)},
		{"anthropic", "ANTHROPIC key sk-ant-api03-" + fake(6, b64url, 90) + ".", AnthropicKey, "sk-ant-api03-" + fake(6, b64url, 90)},
		{"github classic", "token ghp_" + fake(7, base62, 36), GitHubToken, "ghp_" + fake(7, base62, 36)},
		{"github oauth", "gho_" + fake(8, base62, 36), GitHubToken, "gho_" + fake(8, base62, 36)},
		{"github app", "ghs_" + fake(9, base62, 36), GitHubToken, "ghs_" + fake(9, base62, 36)},
		{"github fine-grained", "github_pat_" + fake(10, base62, 22) + "_" + fake(11, base62, 59), GitHubToken, "github_pat_" + fake(10, base62, 22) + "_" + fake(11, base62, 59)},
		{"slack bot", "xoxb-" + "1234567890-" + fake(12, base62, 24), SlackToken, "xoxb-1234567890-" + fake(12, base62, 24)},
		{"slack webhook", "post to https://hooks.slack.com/services/T0ABC/B0DEF/" + fake(13, base62, 24), SlackWebhook, "https://hooks.slack.com/services/T0ABC/B0DEF/" + fake(13, base62, 24)},
		{"aws", "AKIA" + fake(14, upperD, 16) + " is the id", AWSKey, "AKIA" + fake(14, upperD, 16)},
		{"aws session", "ASIA" + fake(15, upperD, 16), AWSKey, "ASIA" + fake(15, upperD, 16)},
		{"google", "maps key AIza" + fake(16, b64url, 35), GoogleKey, "AIza" + fake(16, b64url, 35)},
		{"stripe live", "sk_live_" + fake(17, base62, 24), StripeKey, "sk_live_" + fake(17, base62, 24)},
		{"stripe restricted", "rk_live_" + fake(18, base62, 24), StripeKey, "rk_live_" + fake(18, base62, 24)},
		{"jwt", "cookie " + jwt, JWT, jwt},
		{"private key", "here:\n" + pem + "\nthanks", PrivateKey, pem},
		{"private key cut off", "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nb3BlbnNzaC1rZXk", PrivateKey, "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nb3BlbnNzaC1rZXk"},
		{"password =", "db password=hunter2 ok", Password, "hunter2"},
		{"password json", `{"user": "bob", "password": "correct horse"}`, Password, "correct horse"},
		{"passwd colon", "passwd: s3cr3t!", Password, "s3cr3t!"},
		{"pwd", "pwd=Tr0ub4dor", Password, "Tr0ub4dor"},
		{"DB_PASSWORD env", "DB_PASSWORD=pa55word", Password, "pa55word"},
		{"my password is", "My password is swordfish.", Password, "swordfish"},
		{"password for X is", "The password for the NAS is blue42", Password, "blue42"},
		{"chinese", "我的密码是abc123，别告诉别人", Password, "abc123"},
		{"chinese colon", "密码：Pa55w0rd", Password, "Pa55w0rd"},
		{"german", "Das Passwort ist Sommer2024!", Password, "Sommer2024!"},
		{"bearer", "curl -H 'Authorization: Bearer " + fake(19, b64url, 40) + "'", Bearer, fake(19, b64url, 40)},
		{"basic", "Authorization: Basic dXNlcjpwYXNzd29yZA==", BasicAuth, "dXNlcjpwYXNzd29yZA=="},
		{"url password", "postgres://app:" + "s3cret-pw@db.internal:5432/app", URLPassword, "s3cret-pw"},
		{"api key assignment", "API_KEY=" + "a1b2c3d4e5f6a7b8c9d0", Secret, "a1b2c3d4e5f6a7b8c9d0"},
		{"token json", `"access_token": "` + fake(20, base62, 24) + `"`, Secret, fake(20, base62, 24)},
		{"hex secret assigned", "client_secret: " + "9f86d081884c7d659a2feaa0c55ad015", Secret, "9f86d081884c7d659a2feaa0c55ad015"},
		{"high entropy", "the value is " + fake(21, base62, 40) + " there", HighEntropy, fake(21, base62, 40)},
		{"aws secret alone", "secret part: " + fake(22, base62+"+/", 40), HighEntropy, fake(22, base62+"+/", 40)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := Find(tt.text)
			if len(fs) != 1 {
				t.Fatalf("Find(%q) = %v, want one %s", tt.text, fs, tt.kind)
			}
			f := fs[0]
			if f.Kind != tt.kind || tt.text[f.Start:f.End] != tt.secret {
				t.Fatalf("Find(%q) = %s %q, want %s %q", tt.text, f.Kind, tt.text[f.Start:f.End], tt.kind, tt.secret)
			}
			red := Redact(tt.text)
			if strings.Contains(red, tt.secret) || !strings.Contains(red, "[REDACTED:"+tt.kind+"]") {
				t.Fatalf("Redact = %q", red)
			}
		})
	}
}

func TestFindNothing(t *testing.T) {
	texts := []string{
		"I prefer dark roast coffee in the morning.",
		"My home city is Berlin and I work at Acme.",
		"Deploys go out on Fridays after the standup.",
		"The request id was 550e8400-e29b-41d4-a716-446655440000.",
		"Fixed in commit 4891625a1b2c3d4e5f60718293a4b5c6d7e8f901 on main.",
		"sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"See https://github.com/trove-memory/trove/blob/main/internal/extract/prompts.go#L10",
		"https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI",
		"/usr/local/lib/python3.11/site-packages/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so",
		"C:\\Users\\bob\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe",
		"Run TestChatSchemaRefusalNotRememberedWhenFallbackFailsToo again",
		"AbstractSingletonProxyFactoryBean2 is a joke class name",
		"node_modules/@types/react-dom/client/index.d.ts",
		"2024-01-15T10:30:00Z_backup_archive_v2_final.tar.gz",
		"Password is required.",
		"The password: must be at least 12 characters",
		"My password is stored in 1Password.",
		"password = os.Getenv(\"DB_PASSWORD\")",
		"password: ${DB_PASSWORD}",
		"password=********",
		"token = getTokenFromEnvironment()",
		"Use Bearer authentication for the API.",
		"sk-learn is a machine learning library",
		"task-scheduler-configuration-file",
		"密码是错误的",
		"我喜欢喝咖啡，不加糖。",
		"Ich wohne in München und trinke gern Tee.",
		"my_very_long_variable_name_for_testing_things_and_more",
		"QUERY_SELECTOR_ALL_ELEMENTS_WITH_CLASS_NAME_1",
		"",
	}
	for _, text := range texts {
		if fs := Find(text); len(fs) != 0 {
			var got []string
			for _, f := range fs {
				got = append(got, f.Kind+" "+text[f.Start:f.End])
			}
			t.Errorf("Find(%q) = %q, want nothing", text, got)
		}
		if Redact(text) != text {
			t.Errorf("Redact changed %q", text)
		}
	}
}

func TestFindSeveral(t *testing.T) {
	k1, k2 := "sk-"+fake(30, base62, 48), "ghp_"+fake(31, base62, 36)
	text := "first " + k1 + " then password: hunter2\nand " + k2
	got := kinds(Find(text))
	want := []string{OpenAIKey, Password, GitHubToken}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("kinds = %v, want %v", got, want)
	}
	red := Redact(text)
	wantRed := "first [REDACTED:openai_key] then password: [REDACTED:password]\nand [REDACTED:github_token]"
	if red != wantRed {
		t.Fatalf("Redact = %q\nwant    %q", red, wantRed)
	}
}

func TestSpecificKindWins(t *testing.T) {
	// The value of api_key= is an OpenAI key: reported once, as that.
	key := "sk-proj-" + fake(40, b64url, 60)
	fs := Find("OPENAI_API_KEY=" + key)
	if len(fs) != 1 || fs[0].Kind != OpenAIKey {
		t.Fatalf("Find = %v, want one openai_key", fs)
	}
}

// TestHighEntropyRecall measures the high-entropy rule on random tokens:
// nearly all of them must be caught.
func TestHighEntropyRecall(t *testing.T) {
	for _, n := range []int{32, 40, 64} {
		missed := 0
		const trials = 2000
		for i := range trials {
			tok := fake(uint64(1000+i*n), base62, n)
			if len(Find("x "+tok+" y")) == 0 {
				missed++
			}
		}
		if limit := trials / 50; missed > limit { // 2%
			t.Errorf("length %d: %d of %d random tokens not flagged", n, missed, trials)
		}
	}
}

func TestRedactIdempotent(t *testing.T) {
	text := "password: hunter2, key sk-" + fake(50, base62, 48) + ", https://u:pw1234@host/x"
	once := Redact(text)
	if twice := Redact(once); twice != once {
		t.Fatalf("Redact is not idempotent:\n%q\n%q", once, twice)
	}
}

func FuzzFind(f *testing.F) {
	f.Add("password=hunter2")
	f.Add("my key is sk-" + fake(60, base62, 48))
	f.Add("-----BEGIN EC " + "PRIVATE KEY-----\nabc")
	f.Add("Authorization: Bearer " + fake(61, b64url, 40))
	f.Add("密码是abc123")
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc")
	f.Add("postgres://a:b@c")
	f.Add("\"password\": \"\"")
	f.Fuzz(func(t *testing.T, text string) {
		fs := Find(text)
		last := 0
		for _, x := range fs {
			if x.Start < last || x.End <= x.Start || x.End > len(text) {
				t.Fatalf("bad span %v (previous end %d) in %q", x, last, text)
			}
			if x.Kind == "" {
				t.Fatalf("empty kind in %v", x)
			}
			if utf8.ValidString(text) && (!utf8.ValidString(text[x.Start:x.End]) || !utf8.RuneStart(text[x.Start]) || (x.End < len(text) && !utf8.RuneStart(text[x.End]))) {
				t.Fatalf("span %v splits a character of %q", x, text)
			}
			last = x.End
		}
		red := Redact(text)
		if len(fs) == 0 && red != text {
			t.Fatalf("Redact changed a text with no findings")
		}
		if left := Find(red); len(left) != 0 {
			t.Fatalf("Redact(%q) = %q still holds %v", text, red, left)
		}
	})
}
