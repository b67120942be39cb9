package openaicompat

import (
	"net/http"
	"testing"
	"unicode/utf8"
)

// Replies come from outside; whatever they hold, parsing must not panic
// and must either fail or return what the contract promises.

func FuzzParseEmbeddings(f *testing.F) {
	f.Add([]byte(`{"data":[{"index":0,"embedding":[1,2]},{"index":1,"embedding":[3,4]}]}`), 2)
	f.Add([]byte(`{"data":[{"index":1,"embedding":[1]},{"index":0,"embedding":[2]}]}`), 2)
	f.Add([]byte(`{"data":[{"embedding":[1,2]}]}`), 1)
	f.Add([]byte(`{"data":[{"index":-1,"embedding":[1]}]}`), 1)
	f.Add([]byte(`{"error":{"message":"x"}}`), 1)
	f.Add([]byte(`null`), 0)
	f.Fuzz(func(t *testing.T, raw []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		vecs, err := parseEmbeddings(raw, n)
		if err == nil && len(vecs) != n {
			t.Fatalf("parseEmbeddings returned %d vectors for %d inputs", len(vecs), n)
		}
	})
}

func FuzzParseChat(f *testing.F) {
	f.Add([]byte(`{"choices":[{"message":{"content":"hi"}}]}`))
	f.Add([]byte(`{"choices":[{"message":{"content":null,"refusal":"no"}}]}`))
	f.Add([]byte(`{"choices":[{"message":{"content":""},"finish_reason":"length"}]}`))
	f.Add([]byte(`{"choices":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		text, err := parseChat(raw)
		if err == nil && text == "" {
			t.Fatal("parseChat returned empty text without an error")
		}
	})
}

func FuzzErrorMessage(f *testing.F) {
	f.Add([]byte(`{"error":{"message":"bad key"}}`))
	f.Add([]byte(`{"error":"model not found"}`))
	f.Add([]byte("<html>\n\n oops</html>"))
	f.Add([]byte("héllo wörld ünïcode"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		msg := errorMessage(body, http.StatusBadGateway)
		if msg == "" || len(msg) > 503 {
			t.Fatalf("errorMessage = %q (%d bytes); want 1..503 bytes", msg, len(msg))
		}
		if utf8.Valid(body) && !utf8.ValidString(msg) {
			t.Fatalf("errorMessage split a character: %q", msg)
		}
	})
}
