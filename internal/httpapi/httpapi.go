// Package httpapi is trove's REST API, health check and metrics, with MCP
// over streamable HTTP mounted beside them on one handler:
//
//	POST   /v1/memories                 store a memory (201)
//	GET    /v1/memories?scope=&category=&limit=&offset=&cursor=   one page, newest first
//	GET    /v1/memories/{id}            one memory (id or unique prefix ≥ 8)
//	PATCH  /v1/memories/{id}            change fields; expected_revision → 409 when stale
//	DELETE /v1/memories/{id}            delete (?expected_revision=)
//	POST   /v1/search                   {query, scopes, category, memory_category, limit, min_score, as_of, include_history, debug} → {"results":[...]}
//	GET    /v1/stats?scope=             counts
//	POST   /v1/recall-context           {prompt, agent, limit?} → <relevant-memories> block
//	POST   /v1/capture                  {session?, messages, agent?, scope?, flush?, async?} → decisions (202 + capture_id when async)
//	GET    /v1/capture/{id}             an async capture's state and outcome
//	POST   /v1/facts                    {query | fact_key, at?, include_history?, scopes?, limit?} → a fact's values over time
//	GET    /healthz                     liveness and store check (no token needed)
//	GET    /metrics                     Prometheus text format
//	       /mcp                         MCP (streamable HTTP)
//
// Errors are {"error":{"code","message"}} with a fitting status: 400
// invalid_argument, 401 unauthorized, 403 scope_access_denied, 404
// not_found, 409 conflict, 413/415 for bodies, 503 unavailable.
//
// With tokens set, every route but /healthz needs "Authorization: Bearer
// <token>", compared in constant time; tokens are never logged or echoed.
// Each token is bound to a principal, and the X-Trove-Agent header may only
// narrow what it allows:
//
//   - owner (Options.Token, or "owner" in Tokens): every scope; a header
//     makes the request that agent's, none makes it Options.Agent's ("" is
//     the owner).
//   - agent:<id>: always that agent; a header naming another agent is
//     refused 403 forbidden, so a misconfigured host fails loudly instead
//     of writing under the wrong agent.
//   - agents:<pattern>: no owner rights; every request to /v1 or /mcp must
//     name a matching agent in the header (else 403 forbidden).
//
// Without tokens (loopback only) every request is the owner's, narrowed by
// the header. Only the owner sees per-scope series on /metrics.
//
//	h := httpapi.New(httpapi.Options{Service: svc, MCP: mcpSrv.Handler(), Tokens: toks})
//	srv := &http.Server{Addr: "127.0.0.1:7777", Handler: h}
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/version"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 1 << 20

// Options configure the handler.
type Options struct {
	Service *service.Service
	// MCP is mounted at /mcp when set.
	MCP http.Handler
	// Metrics records requests; nil keeps none and /metrics shows only
	// what the store tells.
	Metrics *Metrics
	// Token, when set, is a bearer token of the owner (TROVE_TOKEN,
	// --token-file).
	Token string
	// Tokens are further bearer tokens, each bound to its principal. With
	// Token or Tokens set, every route but /healthz needs one of them.
	Tokens map[string]memory.Principal
	// Agent is the caller of requests without an X-Trove-Agent header
	// ("" is the owner).
	Agent string
	// LocalOnly rejects requests whose Host is not a loopback name: with no
	// token, it keeps a web page from reaching the API through DNS
	// rebinding.
	LocalOnly bool
	Logger    *slog.Logger
}

type api struct {
	opts   Options
	svc    *service.Service
	tokens []tokenEntry
	mux    *http.ServeMux
}

// tokenEntry is a token kept only as its hash, so comparing takes the same
// time whatever the presented token's length.
type tokenEntry struct {
	hash [sha256.Size]byte
	p    memory.Principal
}

// New returns the handler.
func New(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(opts.Service)
	}
	a := &api{opts: opts, svc: opts.Service, mux: http.NewServeMux()}
	if opts.Token != "" {
		a.tokens = append(a.tokens, tokenEntry{sha256.Sum256([]byte(opts.Token)), memory.Principal{Owner: true}})
	}
	for tok, p := range opts.Tokens {
		a.tokens = append(a.tokens, tokenEntry{sha256.Sum256([]byte(tok)), p})
	}
	a.routes()
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, &service.Error{Code: codeForbidden, Message: "cross-origin browser requests are refused: call the API from a program, not a web page"})
	}))
	return a.observe(cop.Handler(http.HandlerFunc(a.serve)))
}

// codeForbidden is for requests refused before any operation (cross-origin, wrong Host).
const codeForbidden service.Code = "forbidden"

func (a *api) routes() {
	a.handle("POST /v1/memories", a.storeMemory)
	a.handle("GET /v1/memories", a.listMemories)
	a.handle("GET /v1/memories/{id}", a.getMemory)
	a.handle("PATCH /v1/memories/{id}", a.updateMemory)
	a.handle("DELETE /v1/memories/{id}", a.deleteMemory)
	a.handle("GET /v1/memories/{id}/history", a.memoryHistory)
	a.handle("POST /v1/memories/{id}/revert", a.revertMemory)
	a.handle("POST /v1/memories/{id}/restore", a.restoreMemory)
	a.handle("POST /v1/search", a.search)
	a.handle("GET /v1/stats", a.stats)
	a.handle("POST /v1/recall-context", a.recallContext)
	a.handle("POST /v1/capture", a.capture)
	a.handle("GET /v1/capture/{id}", a.captureStatus)
	a.handle("POST /v1/facts", a.facts)
	a.handle("POST /v1/maintain", a.maintain)
	a.handle("POST /v1/memories/{id}/promote", a.promoteMemory)
	a.handle("POST /v1/memories/{id}/archive", a.archiveMemory)
	a.handle("POST /v1/promote", a.promote)
	a.handle("POST /v1/archive", a.archive)
	a.handle("POST /v1/compact", a.compact)
	a.handle("POST /v1/feedback", a.feedback)
	a.mux.HandleFunc("GET /healthz", a.healthz)
	a.mux.HandleFunc("GET /metrics", a.metrics)
	if a.opts.MCP != nil {
		a.mux.Handle("/mcp", a.opts.MCP)
	}
}

// handle registers a JSON operation: fn returns the status and body, or
// an error that becomes the error body.
func (a *api) handle(pattern string, fn func(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error)) {
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c := service.Caller{Agent: whoOf(r.Context()).agent}
		status, body, err := fn(w, r, c)
		if err != nil {
			e := service.ErrorOf(err)
			st := statusOf(err)
			if st >= 500 && e.Code == service.CodeInternal {
				a.opts.Logger.Error("request failed", "route", pattern, "error", e.Message)
			}
			writeError(w, st, e)
			return
		}
		writeJSON(w, status, body)
	})
}

// serve checks the token, the Host and the agent header, then routes.
func (a *api) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		a.mux.ServeHTTP(w, r)
		return
	}
	if a.opts.LocalOnly && !loopbackHost(r.Host) {
		writeError(w, http.StatusForbidden, &service.Error{Code: codeForbidden,
			Message: "this server answers only requests addressed to localhost or 127.0.0.1"})
		return
	}
	p, ok := a.principal(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="trove"`)
		writeError(w, http.StatusUnauthorized, &service.Error{Code: service.CodeUnauthorized,
			Message: "missing or invalid bearer token: send the server's token as \"Authorization: Bearer <token>\""})
		return
	}
	header := strings.TrimSpace(r.Header.Get(service.AgentHeader))
	if err := service.CheckAgent(header); err != nil {
		writeError(w, http.StatusBadRequest, service.ErrorOf(err))
		return
	}
	who, err := resolve(p, header, a.opts.Agent)
	if err != nil && r.URL.Path != "/metrics" {
		writeError(w, http.StatusForbidden, err)
		return
	}
	orig := r
	r = r.WithContext(context.WithValue(r.Context(), whoKey{}, who))
	// The MCP handler reads the agent from the header: make it say what
	// the token resolved to, whatever the client sent.
	r.Header = r.Header.Clone()
	if who.agent != "" {
		r.Header.Set(service.AgentHeader, who.agent)
	} else {
		r.Header.Del(service.AgentHeader)
	}
	// Unknown paths and wrong methods get JSON errors too.
	if _, pattern := a.mux.Handler(r); pattern == "" {
		rec := &statusOnly{header: http.Header{}}
		a.mux.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeError(w, http.StatusMethodNotAllowed, &service.Error{Code: service.CodeInvalid,
				Message: r.Method + " is not allowed on " + r.URL.Path + ": use " + rec.header.Get("Allow")})
			return
		}
		writeError(w, http.StatusNotFound, &service.Error{Code: service.CodeNotFound,
			Message: "no such route " + r.URL.Path + ": the API lives under /v1 (memories, search, stats, recall-context, capture), MCP at /mcp"})
		return
	}
	a.mux.ServeHTTP(w, r)
	// observe reads the route from the request it passed in, as the mux
	// would have set it there.
	orig.Pattern = r.Pattern
}

// principal finds the request's token among the server's: every entry is
// compared, in constant time, so neither which token matched nor how much
// of it shows in the timing. With no tokens configured everyone is the
// owner (the server then answers loopback only).
func (a *api) principal(r *http.Request) (memory.Principal, bool) {
	if len(a.tokens) == 0 {
		return memory.Principal{Owner: true}, true
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return memory.Principal{}, false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	var found memory.Principal
	match := 0
	for _, e := range a.tokens {
		if subtle.ConstantTimeCompare(got[:], e.hash[:]) == 1 {
			found, match = e.p, 1
		}
	}
	return found, match == 1
}

// who is the resolved caller of a request.
type who struct {
	agent string // "" is the owner
	owner bool   // the owner acting as itself: may see every scope's figures
}

type whoKey struct{}

func whoOf(ctx context.Context) who {
	w, _ := ctx.Value(whoKey{}).(who)
	return w
}

// resolve applies the agent header to what the token allows.
func resolve(p memory.Principal, header, def string) (who, *service.Error) {
	switch {
	case p.Owner:
		agent := header
		if agent == "" {
			agent = def
		}
		return who{agent: agent, owner: agent == ""}, nil
	case p.Agent != "":
		if header != "" && header != p.Agent {
			return who{agent: p.Agent}, &service.Error{Code: codeForbidden, Message: fmt.Sprintf(
				"this token acts as agent %q, but %s names %q: send %q or no %s header, or use that agent's token",
				p.Agent, service.AgentHeader, header, p.Agent, service.AgentHeader)}
		}
		return who{agent: p.Agent}, nil
	}
	switch {
	case header == "":
		return who{}, &service.Error{Code: codeForbidden, Message: fmt.Sprintf(
			"this token speaks for agents %q and has no owner rights: name the agent of each request with the %s header",
			p.Pattern, service.AgentHeader)}
	case !p.Matches(header):
		return who{}, &service.Error{Code: codeForbidden, Message: fmt.Sprintf(
			"%s %q is not one of this token's agents (%q): use a matching agent id, or a token for that agent",
			service.AgentHeader, header, p.Pattern)}
	}
	return who{agent: header}, nil
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	v := version.Get()
	body := map[string]any{"status": "ok", "version": v.Version, "commit": v.Commit, "go": v.Go, "recall": a.svc.HasSearcher()}
	if err := a.svc.Health(r.Context()); err != nil {
		body["status"] = "unavailable"
		body["error"] = "the store does not answer"
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (a *api) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if err := a.opts.Metrics.write(r.Context(), w, whoOf(r.Context()).owner); err != nil {
		a.opts.Logger.Error("write metrics", "error", err)
	}
}

// observe records every request's route, status and latency.
func (a *api) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		a.opts.Metrics.ObserveRequest(route, sw.status, time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// statusOnly records what the mux would answer for an unmatched request.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int)        { s.status = code }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, e *service.Error) {
	writeJSON(w, status, e.Body())
}

// statusOf maps an error to its HTTP status.
func statusOf(err error) int {
	var be *bodyError
	if asBodyError(err, &be) {
		return be.status
	}
	switch service.ErrorOf(err).Code {
	case service.CodeInvalid:
		return http.StatusBadRequest
	case service.CodeUnauthorized:
		return http.StatusUnauthorized
	case service.CodeScopeDenied, codeForbidden:
		return http.StatusForbidden
	case service.CodeNotFound:
		return http.StatusNotFound
	case service.CodeConflict:
		return http.StatusConflict
	case service.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
