package openaicompat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"

	"github.com/trove-memory/trove/internal/embedding"
)

// This file lends the package's request machinery (timeouts, retries with
// backoff and Retry-After, *APIError with hints, key redaction) to vendor
// packages whose requests or replies are not OpenAI's: embedders that take
// a task hint (Jina, Voyage) and rerankers (Jina, Voyage, Pinecone, TEI).

// Timeout reports whether the attempt got no reply within Config.Timeout.
func (e *APIError) Timeout() bool { return e.timeout }

// EndpointOptions say how one vendor endpoint differs from OpenAI's.
type EndpointOptions struct {
	// Op names the call in errors: "rerank" gives "jina rerank: HTTP 500:
	// ...". Default "request".
	Op string
	// Path is joined to Config.BaseURL, e.g. "rerank"; "" posts to BaseURL.
	Path string
	// AuthHeader is the header that carries Config.APIKey as it is, for
	// vendors that do not take "Authorization: Bearer <key>" (Pinecone's
	// "Api-Key"). It is only sent to the endpoint's own host, never to a
	// host a redirect points at. "" = Bearer.
	AuthHeader string
	// Header holds extra headers for every request, e.g. an API version.
	Header http.Header
	// Retry decides whether a failed attempt is tried again while
	// Config.MaxRetries allows. nil = (*APIError).Retryable: timeouts,
	// connection failures, 429 and 5xx.
	Retry func(*APIError) bool
	// MaxReply caps the reply body in bytes; 0 = 8 MiB.
	MaxReply int64
	// ModelOptional lets Config.Model be empty, for servers that serve one
	// model and take no model field (text-embeddings-inference).
	ModelOptional bool
}

// Endpoint posts JSON to one URL with the package's request machinery:
// per-attempt timeout, retries with backoff honouring Retry-After, and
// failures as *APIError that never contain the API key. It is safe for
// concurrent use.
type Endpoint struct {
	c     *client
	retry func(*APIError) bool
}

// NewEndpoint validates cfg (Dimensions and BatchSize are ignored) and
// returns an Endpoint for {BaseURL}/{opts.Path}.
func NewEndpoint(cfg Config, opts EndpointOptions) (*Endpoint, error) {
	model := cfg.Model
	if opts.ModelOptional && model == "" {
		cfg.Model = "-" // satisfies Validate; the real, empty name is restored below
	}
	op := opts.Op
	if op == "" {
		op = "request"
	}
	maxReply := opts.MaxReply
	if maxReply <= 0 {
		maxReply = maxChatReply
	}
	c, err := newClient(cfg, op, opts.Path, maxReply)
	if err != nil {
		return nil, err
	}
	c.cfg.Model = model
	if opts.AuthHeader != "" || len(opts.Header) > 0 {
		u, err := url.Parse(c.endpoint)
		if err != nil {
			return nil, fmt.Errorf("openaicompat: BaseURL: %w", err) // unreachable after Validate
		}
		hc := *c.cfg.HTTPClient // a copy: the caller's client is not ours to change
		base := hc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		hc.Transport = &headerTransport{
			base:   base,
			host:   u.Host,
			auth:   textproto.CanonicalMIMEHeaderKey(opts.AuthHeader),
			key:    c.cfg.APIKey,
			header: canonical(opts.Header),
		}
		c.cfg.HTTPClient = &hc
	}
	retry := opts.Retry
	if retry == nil {
		retry = (*APIError).Retryable
	}
	return &Endpoint{c: c, retry: retry}, nil
}

// Do posts in, encoded as JSON, and decodes the reply into out. A reply
// that is not JSON of out's shape is an error saying which; failed
// requests are *APIError; a cancelled ctx is returned wrapped. No error
// contains the API key.
func (e *Endpoint) Do(ctx context.Context, in, out any) error {
	return redactErr(e.do(ctx, in, out), e.c.cfg.APIKey)
}

func (e *Endpoint) do(ctx context.Context, in, out any) error {
	prov, op := e.c.cfg.Provider, e.c.op
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s %s: encoding request: %w", prov, op, err)
	}
	raw, err := e.c.postWith(ctx, body, e.retry, e.hint)
	if err != nil {
		return err
	}
	if err := decodeReply(raw, out); err != nil {
		return fmt.Errorf("%s %s: %w", prov, op, err)
	}
	return nil
}

// hint is the client's, corrected for calls that are neither embeddings
// nor chat, and for servers that take no model name.
func (e *Endpoint) hint(err *APIError) string {
	model := e.c.cfg.Model
	switch {
	case err.Status == http.StatusNotFound && model == "":
		return "check BaseURL"
	case (err.Status == http.StatusBadRequest || err.Status == http.StatusUnprocessableEntity) &&
		e.c.op != opEmbeddings && e.c.op != opChat:
		if model == "" {
			return "check the request options"
		}
		return fmt.Sprintf("check the model name %q and the request options", model)
	}
	return e.c.hint(err)
}

// postWith sends body with retries, the retry decision and hint supplied by
// the caller (post uses the defaults). It returns the reply body of the
// first successful attempt. Failures are *APIError, except a cancelled ctx,
// which is returned wrapped so errors.Is(err, context.Canceled) holds.
func (c *client) postWith(ctx context.Context, body []byte, retry func(*APIError) bool, hint func(*APIError) string) ([]byte, error) {
	attempts := 1 + c.cfg.MaxRetries
	for attempt := 1; ; attempt++ {
		reply, err := c.attempt(ctx, body)
		if err == nil {
			return reply, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w (during attempt %d)", c.cfg.Provider, c.op, ctx.Err(), attempt)
		}
		if attempt >= attempts || !retry(err) {
			err.Attempts = attempt
			err.Hint = hint(err)
			return nil, err
		}
		if serr := c.sleep(ctx, c.backoff(attempt, err.RetryAfter)); serr != nil {
			return nil, fmt.Errorf("%s %s: %w while waiting to retry (attempt %d: %s)", c.cfg.Provider, c.op, serr, attempt, err.Message)
		}
	}
}

// headerTransport adds an endpoint's extra headers and moves the API key
// from "Authorization: Bearer" to the vendor's own header.
type headerTransport struct {
	base   http.RoundTripper
	host   string // the endpoint's host: the only one that gets the key
	auth   string // header for the key; "" = leave Authorization alone
	key    string
	header http.Header
}

func (t *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context()) // a RoundTripper must not change the request it was given
	for k, v := range t.header {
		r.Header[k] = v
	}
	if t.auth != "" {
		r.Header.Del("Authorization")
		if t.key != "" && r.URL.Host == t.host {
			r.Header.Set(t.auth, t.key)
		}
	}
	return t.base.RoundTrip(r)
}

func canonical(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		out[textproto.CanonicalMIMEHeaderKey(k)] = append([]string(nil), v...)
	}
	return out
}

// RequestFunc returns the JSON request body for one batch of texts. query
// is true for EmbedQuery (search queries) and false for Embed (text to
// store).
type RequestFunc func(texts []string, query bool) any

// TaskEmbedder calls an embeddings endpoint that answers in OpenAI's shape
// (data[].embedding, placed by index) but takes its own request body,
// typically with a hint saying whether the texts are documents or queries
// (Jina's "task", Voyage's "input_type"). Batching, retries, reply checks,
// the Dimensions check and normalisation are Embedder's. It is safe for
// concurrent use.
type TaskEmbedder struct {
	e     *Embedder
	build RequestFunc
}

var (
	_ embedding.Embedder      = (*TaskEmbedder)(nil)
	_ embedding.QueryEmbedder = (*TaskEmbedder)(nil)
	_ embedding.Describer     = (*TaskEmbedder)(nil)
)

// NewTaskEmbedder validates cfg and returns a TaskEmbedder posting to
// {BaseURL}/embeddings the bodies build makes.
func NewTaskEmbedder(cfg Config, build RequestFunc) (*TaskEmbedder, error) {
	if build == nil {
		return nil, errors.New("openaicompat: NewTaskEmbedder needs a RequestFunc")
	}
	e, err := NewEmbedder(cfg)
	if err != nil {
		return nil, err
	}
	return &TaskEmbedder{e: e, build: build}, nil
}

// Embed embeds text to store, as Embedder.Embed does.
func (t *TaskEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return t.e.embedWith(ctx, texts, func(b []string) any { return t.build(b, false) })
}

// EmbedQuery embeds search queries.
func (t *TaskEmbedder) EmbedQuery(ctx context.Context, texts []string) ([][]float32, error) {
	return t.e.embedWith(ctx, texts, func(b []string) any { return t.build(b, true) })
}

// Info reports the provider, model and dimensions, as Embedder.Info does.
func (t *TaskEmbedder) Info() embedding.Info { return t.e.Info() }

// embedWith embeds texts in batches of BatchSize, each request body made by
// build (Embed builds the OpenAI shape).
func (e *Embedder) embedWith(ctx context.Context, texts []string, build func([]string) any) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	size := e.c.cfg.BatchSize
	for start := 0; start < len(texts); start += size {
		end := min(start+size, len(texts))
		vecs, err := e.embedBatchWith(ctx, texts[start:end], build)
		if err != nil {
			if len(texts) > size {
				err = fmt.Errorf("inputs %d-%d of %d: %w", start, end-1, len(texts), err)
			}
			return nil, redactErr(err, e.c.cfg.APIKey)
		}
		out = append(out, vecs...)
	}
	return out, nil
}

func (e *Embedder) embedBatchWith(ctx context.Context, texts []string, build func([]string) any) ([][]float32, error) {
	body, err := json.Marshal(build(texts))
	if err != nil {
		return nil, fmt.Errorf("%s embeddings: encoding request: %w", e.c.cfg.Provider, err)
	}
	raw, err := e.c.post(ctx, body)
	if err != nil {
		return nil, err
	}
	vecs, err := parseEmbeddings(raw, len(texts))
	if err != nil {
		return nil, fmt.Errorf("%s embeddings: %w", e.c.cfg.Provider, err)
	}
	if err := e.checkDims(vecs); err != nil {
		return nil, fmt.Errorf("%s embeddings: %w", e.c.cfg.Provider, err)
	}
	for _, v := range vecs {
		embedding.Normalize(v)
	}
	return vecs, nil
}
