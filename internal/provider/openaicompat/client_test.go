package openaicompat

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func failN(failures int, status int, header map[string]string, body string) func(http.ResponseWriter, *http.Request, int, call) {
	return func(w http.ResponseWriter, r *http.Request, n int, c call) {
		if n <= failures {
			for k, v := range header {
				w.Header().Set(k, v)
			}
			writeRaw(w, status, body)
			return
		}
		embeddingsOK(2)(w, r, n, c)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	f := newFake(t, failN(1, http.StatusTooManyRequests, map[string]string{"Retry-After": "7"},
		`{"error":{"message":"rate limit reached"}}`))
	e, s := newTestEmbedder(t, testConfig(f))
	if _, err := e.Embed(context.Background(), []string{"a"}); err != nil {
		t.Fatalf("Embed after one 429: %v", err)
	}
	if n := len(f.Calls()); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
	if got := s.got(); !reflect.DeepEqual(got, []time.Duration{7 * time.Second}) {
		t.Fatalf("slept %v, want [7s] as Retry-After asked", got)
	}
}

func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"seconds", map[string]string{"Retry-After": "3"}, 3 * time.Second},
		{"fractional seconds", map[string]string{"Retry-After": "1.5"}, 1500 * time.Millisecond},
		{"HTTP date", map[string]string{"Retry-After": now.Add(4 * time.Second).Format(http.TimeFormat)}, 4 * time.Second},
		{"milliseconds header", map[string]string{"Retry-After-Ms": "250", "Retry-After": "1"}, 250 * time.Millisecond},
		{"capped at MaxBackoff", map[string]string{"Retry-After": "3600"}, DefaultMaxBackoff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, failN(1, http.StatusServiceUnavailable, tt.header, "busy"))
			e, s := newTestEmbedder(t, testConfig(f))
			e.c.now = func() time.Time { return now }
			if _, err := e.Embed(context.Background(), []string{"a"}); err != nil {
				t.Fatal(err)
			}
			if got := s.got(); !reflect.DeepEqual(got, []time.Duration{tt.want}) {
				t.Fatalf("slept %v, want [%v]", got, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"NaN", 0},
		{"soon", 0},
		{"1e300", 24 * time.Hour},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0}, // already past
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.value != "" {
			h.Set("Retry-After", tt.value)
		}
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("Retry-After %q: %v, want %v", tt.value, got, tt.want)
		}
	}
}

func TestServerErrorThenSuccess(t *testing.T) {
	f := newFake(t, failN(1, http.StatusInternalServerError, nil, `{"error":{"message":"oops"}}`))
	e, s := newTestEmbedder(t, testConfig(f))
	if _, err := e.Embed(context.Background(), []string{"a"}); err != nil {
		t.Fatalf("Embed after one 500: %v", err)
	}
	got := s.got()
	if len(got) != 1 || got[0] < DefaultBackoffBase/2 || got[0] > DefaultBackoffBase {
		t.Fatalf("slept %v, want one delay in [%v, %v]", got, DefaultBackoffBase/2, DefaultBackoffBase)
	}
}

func TestServerErrorForever(t *testing.T) {
	f := newFake(t, failN(1000, http.StatusBadGateway, nil, `{"error":{"message":"upstream down"}}`))
	e, s := newTestEmbedder(t, testConfig(f))
	_, err := e.Embed(context.Background(), []string{"a"})
	want := "openai embeddings: HTTP 502: upstream down (gave up after 4 attempts; the provider is failing, try again later)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 502 || apiErr.Attempts != 4 || !apiErr.Retryable() {
		t.Fatalf("error %#v: want *APIError{Status: 502, Attempts: 4}, retryable", err)
	}
	if n := len(f.Calls()); n != 4 {
		t.Fatalf("%d requests, want 1 + DefaultMaxRetries = 4", n)
	}
	// Exponential with equal jitter: attempt k waits in [b·2^(k-1)/2, b·2^(k-1)].
	got := s.got()
	if len(got) != 3 {
		t.Fatalf("slept %v, want 3 delays", got)
	}
	for i, d := range got {
		hi := DefaultBackoffBase << i
		if d < hi/2 || d > hi {
			t.Errorf("delay %d = %v, want in [%v, %v]", i, d, hi/2, hi)
		}
	}
}

func TestMaxRetriesNegativeMeansOneAttempt(t *testing.T) {
	f := newFake(t, failN(1000, http.StatusServiceUnavailable, nil, "busy"))
	cfg := testConfig(f)
	cfg.MaxRetries = -1
	e, s := newTestEmbedder(t, cfg)
	_, err := e.Embed(context.Background(), []string{"a"})
	if err == nil || strings.Contains(err.Error(), "gave up") {
		t.Fatalf("err = %v; want a plain 503 error", err)
	}
	if n := len(f.Calls()); n != 1 || len(s.got()) != 0 {
		t.Fatalf("%d requests, %d sleeps; want 1 and 0", n, len(s.got()))
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(*Config)
		status  int
		body    string
		wantErr string
	}{
		{"bad request", nil, 400, `{"error":{"message":"dimensions not supported","type":"invalid_request_error"}}`,
			"openai embeddings: HTTP 400: dimensions not supported (check the model name and options such as dimensions)"},
		{"bad key", func(c *Config) { c.KeyName = "TROVE_EMBED_API_KEY" }, 401, `{"error":{"message":"invalid api key"}}`,
			"openai embeddings: HTTP 401: invalid api key (check TROVE_EMBED_API_KEY)"},
		{"no key", func(c *Config) { c.APIKey = "" }, 401, `{"error":{"message":"missing bearer token"}}`,
			"openai embeddings: HTTP 401: missing bearer token (no API key is set; set the API key)"},
		{"unknown model", func(c *Config) { c.Provider = "acme" }, 404, `{"error":"model \"test-model\" not found, try pulling it first"}`,
			`acme embeddings: HTTP 404: model "test-model" not found, try pulling it first (check BaseURL and the model name "test-model")`},
		{"empty body", nil, 403, ``, "openai embeddings: HTTP 403: forbidden (check the API key)"},
		{"too large", nil, 413, `request entity too large`, "HTTP 413: request entity too large (the request is too large; lower the batch size or shorten the input)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, failN(1000, tt.status, nil, tt.body))
			cfg := testConfig(f)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			e, _ := newTestEmbedder(t, cfg)
			_, err := e.Embed(context.Background(), []string{"a"})
			if err == nil || err.Error() != tt.wantErr && !strings.HasSuffix(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v\nwant %s", err, tt.wantErr)
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Retryable() || apiErr.Attempts != 1 {
				t.Fatalf("error %#v: want a non-retryable *APIError after 1 attempt", err)
			}
			if n := len(f.Calls()); n != 1 {
				t.Fatalf("%d requests; %d must not be retried", n, tt.status)
			}
		})
	}
}

func TestErrorBodyIsClipped(t *testing.T) {
	page := "<html>\n<body>\n" + strings.Repeat("<p>Bad gateway, really bad.</p>\n", 100) + "</body></html>"
	f := newFake(t, failN(1000, http.StatusBadGateway, nil, page))
	cfg := testConfig(f)
	cfg.MaxRetries = -1
	e, _ := newTestEmbedder(t, cfg)
	_, err := e.Embed(context.Background(), []string{"a"})
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v", err)
	}
	if len(apiErr.Message) > 203 || strings.Contains(apiErr.Message, "\n") || !strings.HasPrefix(apiErr.Message, "<html> <body> <p>Bad gateway") {
		t.Fatalf("message %q: want the start of the body on one line, at most 200 bytes", apiErr.Message)
	}
}

func TestKeyNeverInErrors(t *testing.T) {
	echo := `{"error":{"message":"Incorrect API key provided: ` + testKey + `. You can find your key at example.com"}}`
	tests := []struct {
		name   string
		status int
	}{
		{"401 echoing the key", 401},
		{"500 echoing the key", 500},
		{"200 error echoing the key", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, failN(1000, tt.status, nil, echo))
			e, _ := newTestEmbedder(t, testConfig(f))
			_, err := e.Embed(context.Background(), []string{"a"})
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), testKey) {
				t.Fatalf("error shows the API key: %v", err)
			}
			if !strings.Contains(err.Error(), "[redacted]") {
				t.Fatalf("error %q: want the key replaced by [redacted]", err)
			}
			var apiErr *APIError
			if errors.As(err, &apiErr) && strings.Contains(apiErr.Message, testKey) {
				t.Fatalf("APIError.Message shows the key: %q", apiErr.Message)
			}
		})
	}

	t.Run("chat", func(t *testing.T) {
		f := newFake(t, failN(1000, 401, nil, echo))
		ch, _ := newTestChat(t, testConfig(f))
		_, err := ch.Complete(context.Background(), chatRequestForTest())
		if err == nil || strings.Contains(err.Error(), testKey) {
			t.Fatalf("err = %v; want an error without the key", err)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		f := newFake(t, embeddingsOK(2))
		f.Close()
		cfg := testConfig(f)
		cfg.MaxRetries = 1
		e, _ := newTestEmbedder(t, cfg)
		_, err := e.Embed(context.Background(), []string{"a"})
		if err == nil || strings.Contains(err.Error(), testKey) {
			t.Fatalf("err = %v; want an error without the key", err)
		}
	})
}

func TestHangingServerTimesOut(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		select { // hang until the client gives up on this attempt
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release) // runs before f.Close (t.Cleanup), so no handler is left hanging
	cfg := testConfig(f)
	cfg.Timeout = 50 * time.Millisecond
	cfg.MaxRetries = 2
	e, s := newTestEmbedder(t, cfg)
	_, err := e.Embed(context.Background(), []string{"a"})
	want := "openai embeddings: no reply within 50ms (gave up after 3 attempts; the server did not answer in time; check BaseURL or raise the timeout)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v does not wrap context.DeadlineExceeded", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 0 || !apiErr.Retryable() {
		t.Fatalf("error %#v: want a retryable *APIError with Status 0", err)
	}
	if n := len(f.Calls()); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
	if n := len(s.got()); n != 2 {
		t.Fatalf("%d backoff sleeps, want 2", n)
	}
}

func TestConnectionRefusedIsRetried(t *testing.T) {
	f := newFake(t, embeddingsOK(2))
	f.Close()
	cfg := testConfig(f)
	cfg.MaxRetries = 2
	e, s := newTestEmbedder(t, cfg)
	_, err := e.Embed(context.Background(), []string{"a"})
	if err == nil || !strings.Contains(err.Error(), "openai embeddings: request failed: ") ||
		!strings.HasSuffix(err.Error(), "(gave up after 3 attempts; check BaseURL and that the server is up)") {
		t.Fatalf("err = %v", err)
	}
	if n := len(s.got()); n != 2 {
		t.Fatalf("%d backoff sleeps, want 2", n)
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	f := newFake(t, failN(1000, http.StatusServiceUnavailable, nil, `{"error":{"message":"busy"}}`))
	e, _ := newTestEmbedder(t, testConfig(f))
	ctx, cancel := context.WithCancel(context.Background())
	e.c.sleep = func(ctx context.Context, d time.Duration) error {
		cancel() // the caller gives up while we wait
		return sleepCtx(ctx, time.Hour)
	}
	_, err := e.Embed(ctx, []string{"a"})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "while waiting to retry (attempt 1: busy)") {
		t.Fatalf("err = %v; want context.Canceled while waiting to retry", err)
	}
	if n := len(f.Calls()); n != 1 {
		t.Fatalf("%d requests after cancel, want 1", n)
	}
}

func TestCancelDuringRequest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		cancel()
		<-r.Context().Done()
	})
	e, s := newTestEmbedder(t, testConfig(f))
	_, err := e.Embed(ctx, []string{"a"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
	if n := len(f.Calls()); n != 1 || len(s.got()) != 0 {
		t.Fatalf("%d requests, %d sleeps; a cancelled call must not retry", n, len(s.got()))
	}
}

func TestReplyTooLarge(t *testing.T) {
	f := newFake(t, embeddingsOK(512))
	e, _ := newTestEmbedder(t, testConfig(f))
	e.c.maxReply = 1000
	_, err := e.Embed(context.Background(), []string{"a"})
	if err == nil || !strings.Contains(err.Error(), "reply is larger than the 1000-byte limit") {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.Calls()); n != 1 {
		t.Fatalf("%d requests; an oversized reply must not be retried", n)
	}
}

func TestBackoff(t *testing.T) {
	c := &client{cfg: Config{BackoffBase: 100 * time.Millisecond, MaxBackoff: time.Second}}
	for attempt := 1; attempt <= 100; attempt++ {
		hi := time.Second
		if attempt <= 4 {
			hi = 100 * time.Millisecond << (attempt - 1)
		}
		for range 20 {
			if d := c.backoff(attempt, 0); d < hi/2 || d > hi {
				t.Fatalf("attempt %d: backoff %v, want in [%v, %v]", attempt, d, hi/2, hi)
			}
		}
	}
	if d := c.backoff(1, 300*time.Millisecond); d != 300*time.Millisecond {
		t.Fatalf("Retry-After 300ms: backoff %v", d)
	}
	if d := c.backoff(1, time.Minute); d != time.Second {
		t.Fatalf("Retry-After 1m: backoff %v, want MaxBackoff", d)
	}
}
