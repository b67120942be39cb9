package openaicompat

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

const (
	opEmbeddings = "embeddings"
	opChat       = "chat"
)

// client is the request machinery Embedder and Chat share: one endpoint,
// JSON POSTs, per-attempt timeouts, retries with backoff.
type client struct {
	cfg      Config // defaults applied
	op       string // opEmbeddings or opChat, for errors
	endpoint string
	maxReply int64

	// Time seams: tests replace sleep to record backoff delays instead of
	// waiting them out, and now to make HTTP-date Retry-After exact.
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
}

func newClient(cfg Config, op, path string, maxReply int64) (*client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("openaicompat: BaseURL: %w", err) // unreachable after Validate
	}
	// JoinPath keeps a query string (Azure's ?api-version=...) and copes
	// with a trailing slash on BaseURL.
	return &client{
		cfg:      cfg,
		op:       op,
		endpoint: base.JoinPath(path).String(),
		maxReply: maxReply,
		sleep:    sleepCtx,
		now:      time.Now,
	}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// post sends body with the default retry rule and hints (see postWith).
func (c *client) post(ctx context.Context, body []byte) ([]byte, error) {
	return c.postWith(ctx, body, (*APIError).Retryable, c.hint)
}

// backoff is the delay after the given failed attempt: the server's
// Retry-After when it sent one, else BackoffBase doubling per attempt with
// "equal jitter" (half fixed, half random), so many clients hitting one
// rate limit spread out without any retrying at once. Both are capped at
// MaxBackoff: a server asking for minutes should not stall a batch job that
// long; the retry will just be refused again and counted.
func (c *client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	maxd := c.cfg.MaxBackoff
	if retryAfter > 0 {
		return min(retryAfter, maxd)
	}
	d := maxd
	if shift := attempt - 1; shift < 32 {
		if b := c.cfg.BackoffBase << shift; b > 0 && b < maxd { // b <= 0: overflow
			d = b
		}
	}
	return d/2 + rand.N(d/2+1)
}

// attempt makes one HTTP request with its own timeout.
func (c *client) attempt(ctx context.Context, body []byte) ([]byte, *APIError) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, c.fail(0, "cannot build request: "+err.Error(), err, false)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "trove")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, c.transportError(actx, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorReply))
		e := c.fail(resp.StatusCode, errorMessage(raw, resp.StatusCode), nil,
			resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500)
		e.RetryAfter = retryAfter(resp.Header, c.now())
		return nil, e
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.maxReply+1))
	if err != nil {
		return nil, c.transportError(actx, err) // cut off or timed out mid-body
	}
	if int64(len(raw)) > c.maxReply {
		return nil, c.fail(0, fmt.Sprintf("reply is larger than the %s limit", byteSize(c.maxReply)), nil, false)
	}
	return raw, nil
}

func (c *client) fail(status int, msg string, cause error, retry bool) *APIError {
	return &APIError{
		Provider: c.cfg.Provider,
		Op:       c.op,
		Status:   status,
		Message:  redact(msg, c.cfg.APIKey),
		Err:      cause,
		retry:    retry,
	}
}

// transportError describes a request that got no usable reply. All such
// failures are retried except certificate errors, which no retry can fix.
func (c *client) transportError(actx context.Context, err error) *APIError {
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		e := c.fail(0, fmt.Sprintf("no reply within %v", c.cfg.Timeout), err, true)
		e.timeout = true
		return e
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return c.fail(0, "TLS certificate not trusted: "+err.Error(), err, false)
	}
	return c.fail(0, "request failed: "+err.Error(), err, true)
}

// retryAfter reads how long the server asked us to wait: Retry-After in
// seconds or as an HTTP date, or the retry-after-ms that OpenAI and Azure
// also send. Zero when absent or unparseable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil {
		return seconds(ms / 1000)
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return seconds(secs)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// seconds converts a server-supplied number of seconds, which may be
// negative, NaN or absurdly large, to a sane Duration.
func seconds(s float64) time.Duration {
	const maxSeconds = 24 * 60 * 60 // anything longer is capped by MaxBackoff anyway
	switch {
	case !(s > 0): // also NaN
		return 0
	case s > maxSeconds:
		s = maxSeconds
	}
	return time.Duration(s * float64(time.Second))
}

func byteSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d-byte", n)
}
