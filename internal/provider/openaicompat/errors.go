package openaicompat

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// APIError is a failed request: the server answered with an error status,
// or (Status 0) no answer arrived at all. Its Error says what happened and
// what to try, e.g.
//
//	openai embeddings: HTTP 401: invalid api key (check TROVE_EMBED_API_KEY)
//	openai chat: HTTP 500: overloaded (gave up after 4 attempts; the provider is failing, try again later)
//
// It never contains the API key: a key echoed back by the server is
// replaced with "[redacted]".
type APIError struct {
	Provider string // Config.Provider, e.g. "openai"
	Op       string // "embeddings" or "chat"
	// Status is the HTTP status code, or 0 when no reply arrived (timeout,
	// connection refused, reset); Err then holds the cause.
	Status int
	// Message is the server's error.message when the body has one, else
	// the start of the body, or a description of the transport failure.
	Message    string
	RetryAfter time.Duration // what the server asked for in Retry-After, if anything
	Attempts   int           // attempts made before giving up
	Hint       string        // what to try, for a CLI's "try:" line; may be empty
	Err        error

	retry   bool
	timeout bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", e.Provider, e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d: ", e.Status)
	}
	b.WriteString(e.Message)
	var notes []string
	if e.Attempts > 1 {
		notes = append(notes, fmt.Sprintf("gave up after %d attempts", e.Attempts))
	}
	if e.Hint != "" {
		notes = append(notes, e.Hint)
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(notes, "; "))
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed later: timeouts,
// connection failures, 429 and 5xx. Callers running batch jobs use it to
// re-queue an item rather than mark it failed.
func (e *APIError) Retryable() bool { return e.retry }

// hint says what to try for a failed request to c.
func (c *client) hint(e *APIError) string {
	switch {
	case e.timeout:
		return "the server did not answer in time; check BaseURL or raise the timeout"
	case e.Status == 0:
		return "check BaseURL and that the server is up"
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		if c.cfg.APIKey == "" {
			return "no API key is set; set " + c.cfg.KeyName
		}
		return "check " + c.cfg.KeyName
	case e.Status == http.StatusNotFound:
		return fmt.Sprintf("check BaseURL and the model name %q", c.cfg.Model)
	case e.Status == http.StatusRequestEntityTooLarge:
		return "the request is too large; lower the batch size or shorten the input"
	case e.Status == http.StatusTooManyRequests:
		return "rate limited; try again later or lower concurrency"
	case e.Status >= 500:
		return "the provider is failing, try again later"
	case e.Status == http.StatusBadRequest || e.Status == http.StatusUnprocessableEntity:
		if c.op == opEmbeddings {
			return "check the model name and options such as dimensions"
		}
		return "check the model name and options such as max tokens or JSON mode"
	}
	return ""
}

// errorMessage extracts a readable message from an error reply body:
// OpenAI's {"error":{"message":...}}, the {"error":"..."} that Ollama and
// others send, or else the start of the body itself.
func errorMessage(body []byte, status int) string {
	var r struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &r) == nil && len(r.Error) > 0 {
		var obj struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(r.Error, &obj) == nil && obj.Message != "":
			return clip(obj.Message, 500)
		case json.Unmarshal(r.Error, &s) == nil && s != "":
			return clip(s, 500)
		}
	}
	if msg := clip(string(body), 200); msg != "" {
		return msg
	}
	return strings.ToLower(http.StatusText(status))
}

// clip collapses whitespace (error pages are often multi-line HTML) and
// truncates s to n bytes without splitting a character.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // back up to a rune start
		n--
	}
	return s[:n] + "..."
}

// redactedError hides the API key in an error that somehow carries it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact replaces the API key in s. Keys shorter than 4 bytes are not
// redacted: replacing them would garble messages and they protect nothing.
func redact(s, key string) string {
	if len(key) < 4 {
		return s
	}
	return strings.ReplaceAll(s, key, "[redacted]")
}

// redactErr is the last line of defence at every exported method: whatever
// an error wraps, its message must not show the key.
func redactErr(err error, key string) error {
	if err == nil || len(key) < 4 {
		return err
	}
	if msg := err.Error(); strings.Contains(msg, key) {
		return &redactedError{msg: redact(msg, key), err: err}
	}
	return err
}
