package openaicompat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/trove-memory/trove/internal/llm"
)

// Chat calls POST {BaseURL}/chat/completions. It is safe for concurrent use.
type Chat struct {
	c *client
	// noSchema is set once the server has refused a json_schema response
	// format: later requests with a Schema ask for json_object at once
	// instead of paying for a refused request each time.
	noSchema atomic.Bool
}

var _ llm.Client = (*Chat)(nil)

// NewChat validates cfg and returns a Chat. Dimensions and BatchSize are
// ignored. No request is made until the first Complete.
func NewChat(cfg Config) (*Chat, error) {
	c, err := newClient(cfg, opChat, "chat/completions", maxChatReply)
	if err != nil {
		return nil, err
	}
	return &Chat{c: c}, nil
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type responseFormat struct {
	Type       string      `json:"type"`
	JSONSchema *jsonSchema `json:"json_schema,omitempty"`
}

type jsonSchema struct {
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema"`
	// Strict is sent as false: strict mode demands every property be
	// required and forbids optional fields, and the caller validates the
	// reply anyway.
	Strict bool `json:"strict"`
}

type chatRequest struct {
	Model    string        `json:"model"`
	Messages []chatMessage `json:"messages"`
	// Temperature is always sent: 0 is a real choice (repeatable replies),
	// not "unset", and servers default to about 1.
	Temperature    float64         `json:"temperature"`
	MaxTokens      int             `json:"max_tokens,omitempty"`
	ResponseFormat *responseFormat `json:"response_format,omitempty"`
}

// Complete sends one system and one user message and returns the first
// choice's message content. A reply with no choices or empty content is an
// error that says why when the server did (finish_reason, refusal).
func (ch *Chat) Complete(ctx context.Context, req llm.Request) (string, error) {
	text, err := ch.complete(ctx, req)
	return text, redactErr(err, ch.c.cfg.APIKey)
}

func (ch *Chat) complete(ctx context.Context, req llm.Request) (string, error) {
	prov := ch.c.cfg.Provider
	if req.User == "" {
		return "", fmt.Errorf("%s chat: request has no user message", prov)
	}
	creq := chatRequest{Model: ch.c.cfg.Model, Temperature: req.Temperature, MaxTokens: req.MaxTokens}
	if req.System != "" {
		creq.Messages = append(creq.Messages, chatMessage{Role: "system", Content: req.System})
	}
	creq.Messages = append(creq.Messages, chatMessage{Role: "user", Content: req.User})
	withSchema := req.Schema != nil && !ch.noSchema.Load()
	switch {
	case withSchema:
		creq.ResponseFormat = &responseFormat{Type: "json_schema", JSONSchema: &jsonSchema{Name: req.Schema.Name, Schema: req.Schema.JSON}}
	case req.JSON || req.Schema != nil:
		creq.ResponseFormat = &responseFormat{Type: "json_object"}
	}
	raw, err := ch.post(ctx, creq)
	if withSchema && schemaRefused(err) {
		// Many OpenAI-compatible servers (and older OpenAI models) know
		// json_object but not json_schema: ask again in the mode they know.
		creq.ResponseFormat = &responseFormat{Type: "json_object"}
		raw, err = ch.post(ctx, creq)
		if !schemaRefused(err) {
			// Remember only when json_object got past the check that
			// refused json_schema: a 400 about something else (the model
			// name, max_tokens) would be refused either way.
			ch.noSchema.Store(true)
		}
	}
	if err != nil {
		return "", err
	}
	text, err := parseChat(raw)
	if err != nil {
		return "", fmt.Errorf("%s chat: %w", prov, err)
	}
	return text, nil
}

func (ch *Chat) post(ctx context.Context, creq chatRequest) ([]byte, error) {
	body, err := json.Marshal(creq)
	if err != nil {
		return nil, fmt.Errorf("%s chat: encoding request: %w", ch.c.cfg.Provider, err)
	}
	return ch.c.post(ctx, body)
}

// schemaRefused reports whether err is a server refusing the json_schema
// response format: HTTP 422, or HTTP 400 whose message names the response
// format or the schema.
func schemaRefused(err error) bool {
	var e *APIError
	if !errors.As(err, &e) {
		return false
	}
	switch e.Status {
	case http.StatusUnprocessableEntity:
		return true
	case http.StatusBadRequest:
		msg := strings.ToLower(e.Message)
		for _, w := range []string{"response_format", "response format", "json_schema", "json schema", "structured output"} {
			if strings.Contains(msg, w) {
				return true
			}
		}
	}
	return false
}

// parseChat returns choices[0].message.content of a chat reply.
func parseChat(raw []byte) (string, error) {
	var reply struct {
		Choices []struct {
			Message struct {
				Content *string `json:"content"`
				Refusal string  `json:"refusal"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Error json.RawMessage `json:"error"`
	}
	if err := decodeReply(raw, &reply); err != nil {
		return "", err
	}
	if len(reply.Choices) == 0 {
		if len(reply.Error) > 0 && string(reply.Error) != "null" {
			return "", fmt.Errorf("reply is an error: %s", errorMessage(raw, 200))
		}
		return "", errors.New("reply has no choices")
	}
	first := reply.Choices[0]
	if first.Message.Content != nil && *first.Message.Content != "" {
		return *first.Message.Content, nil
	}
	switch {
	case first.Message.Refusal != "":
		return "", fmt.Errorf("the model refused: %s", clip(first.Message.Refusal, 300))
	case first.FinishReason == "length":
		return "", errors.New("reply is empty: the model hit the token limit (finish_reason \"length\"); raise MaxTokens")
	case first.FinishReason != "":
		return "", fmt.Errorf("reply is empty (finish_reason %q)", first.FinishReason)
	}
	return "", errors.New("reply is empty")
}
