package openaicompat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/trove-memory/trove/internal/llm"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
)

func ExampleNewEmbedder() {
	// A stand-in for an OpenAI-compatible server.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"data":[{"index":1,"embedding":[0,1,0]},{"index":0,"embedding":[1,0,0]}]}`)
	}))
	defer srv.Close()

	emb, err := openaicompat.NewEmbedder(openaicompat.Config{
		BaseURL: srv.URL + "/v1",
		Model:   "text-embedding-3-small",
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	vecs, err := emb.Embed(context.Background(), []string{"prefers dark mode", "uses vim"})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(vecs) // placed by index, not by reply order
	fmt.Printf("%+v\n", emb.Info())
	// Output:
	// [[1 0 0] [0 1 0]]
	// {Provider:openai Model:text-embedding-3-small Dimensions:3}
}

func ExampleNewChat() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ResponseFormat struct{ Type string } `json:"response_format"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		fmt.Fprintf(w, `{"choices":[{"message":{"content":"{\"format\":\"%s\"}"}}]}`, req.ResponseFormat.Type)
	}))
	defer srv.Close()

	chat, err := openaicompat.NewChat(openaicompat.Config{BaseURL: srv.URL + "/v1", Model: "gpt-4o-mini"})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	reply, err := chat.Complete(context.Background(), llm.Request{
		System: "Reply with JSON.",
		User:   "What format?",
		JSON:   true,
	})
	fmt.Println(reply, err)
	// Output:
	// {"format":"json_object"} <nil>
}

func ExampleAPIError() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"message":"invalid api key"}}`)
	}))
	defer srv.Close()

	emb, _ := openaicompat.NewEmbedder(openaicompat.Config{
		BaseURL: srv.URL,
		APIKey:  "sk-wrong",
		Model:   "m",
		KeyName: "TROVE_EMBED_API_KEY",
	})
	_, err := emb.Embed(context.Background(), []string{"x"})
	fmt.Println(err)
	// Output:
	// openai embeddings: HTTP 401: invalid api key (check TROVE_EMBED_API_KEY)
}
