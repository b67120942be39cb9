package textlang

import "testing"

func TestIsCJK(t *testing.T) {
	for r, want := range map[rune]bool{
		'喝': true, 'ア': true, 'ひ': true, '한': true, 'ー': true, // ー: long vowel mark, script Common
		'a': false, '1': false, 'é': false, '。': false, '，': false, 'Ａ': false, '👍': false,
	} {
		if got := IsCJK(r); got != want {
			t.Errorf("IsCJK(%q) = %v, want %v", r, got, want)
		}
	}
	if !HasCJK("use 咖啡") || HasCJK("use coffee") {
		t.Error("HasCJK")
	}
}

func TestOnlyEmoji(t *testing.T) {
	for s, want := range map[string]bool{
		"👍🎉": true, " 👍 ": true, "❤️": true, "👨‍👩‍👧": true,
		"": false, "  ": false, "👍 ok": false, "ok": false,
	} {
		if got := OnlyEmoji(s); got != want {
			t.Errorf("OnlyEmoji(%q) = %v, want %v", s, got, want)
		}
	}
}
