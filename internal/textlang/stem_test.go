package textlang

import (
	"strings"
	"testing"
)

func TestStemFoldsInflections(t *testing.T) {
	for _, c := range []struct {
		lang  Lang
		words []string
	}{
		{English, []string{"moved", "moving", "moves", "move"}},
		{English, []string{"hikes", "hiking", "hiked", "hike"}},
		{English, []string{"studies", "studied", "study"}},
		{English, []string{"stopped", "stop", "stops"}},
		{English, []string{"deploys", "deployed", "deploying", "deploy", "deployment"}},
		{German, []string{"häuser", "haus", "hauses", "häusern"}},
		{German, []string{"kinder", "kind", "kindern"}},
	} {
		want := Stem(c.words[0], c.lang)
		for _, w := range c.words[1:] {
			if got := Stem(w, c.lang); got != want {
				t.Errorf("%v: Stem(%q) = %q, Stem(%q) = %q: want the same", c.lang, w, got, c.words[0], want)
			}
		}
	}
	for _, pair := range [][2]string{{"starter", "startup"}, {"bus", "business"}, {"inter", "international"}} {
		if a, b := Stem(pair[0], English), Stem(pair[1], English); a == b {
			t.Errorf("%q and %q share the stem %q", pair[0], pair[1], a)
		}
	}
}

// Only words of Latin letters are stemmed: numbers, identifiers with
// digits and other scripts stay as they are.
func TestStemLeavesOtherWords(t *testing.T) {
	for _, w := range []string{"2024", "v1", "k8s", "咖啡", "москва", "ab", ""} {
		if got := Stem(w, English); got != w {
			t.Errorf("Stem(%q) = %q, want it unchanged", w, got)
		}
	}
}

func TestGuess(t *testing.T) {
	for text, want := range map[string]Lang{
		"Ich habe das Haus in Berlin gekauft":       German,
		"Häuser":                                    German,
		"Wie backe ich einen Apfelstrudel?":         German,
		"We moved to Lisbon and the house is big":   English,
		"Which of the deploys failed?":              English,
		"Kubernetes deployment config":              Unknown,
		"":                                          Unknown,
		"die Katze und der Hund, the cat and a dog": Unknown, // two signs each
	} {
		if got := Guess(text); got != want {
			t.Errorf("Guess(%q) = %v, want %v", text, got, want)
		}
	}
	if DocLang("Kubernetes deployment config") != English || DocLang("Die Häuser sind alt") != German {
		t.Error("DocLang: an unknown text is stemmed as English, a German one as German")
	}
}

// StemText replaces words one for one: as many words, in the same places
// among the rest, so positions and phrases survive.
func TestStemTextKeepsWords(t *testing.T) {
	for _, c := range []struct {
		text string
		lang Lang
		want string
	}{
		{"We MOVED to Lisbon, moving boxes!", English, "We move to Lisbon, move box!"},
		{"ERR_CONN_RESET in config/prod.yaml", English, "ERR_CONN_RESET in config/prod.yaml"},
		{"Die Häuser am Fluss", German, "Die haus am Fluss"},
		{"喜欢 欢喝 hiking", English, "喜欢 欢喝 hike"},
	} {
		got := StemText(c.text, c.lang)
		if got != c.want {
			t.Errorf("StemText(%q) = %q, want %q", c.text, got, c.want)
		}
		n := func(s string) int {
			k := 0
			forEachWord(s, func(string, int, int) { k++ })
			return k
		}
		if n(got) != n(c.text) {
			t.Errorf("StemText(%q): %d words, the text has %d", c.text, n(got), n(c.text))
		}
	}
	if s := strings.Repeat("x", 10); StemText(s, English) != s {
		t.Error("a text with nothing to stem must come back as it is")
	}
}

// BenchmarkStemText is the Go side of indexing one memory: guessing its
// language and stemming its words.
//
//	go test -run '^$' -bench StemText ./internal/textlang/
func BenchmarkStemText(b *testing.B) {
	text := "Alice moved the staging deploys to Fridays after the outage; the runbook lives in config/prod.yaml and mentions retries."
	for b.Loop() {
		StemText(text, DocLang(text))
	}
	b.ReportMetric(float64(len(strings.Fields(text))), "words")
}
