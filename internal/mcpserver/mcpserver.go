// Package mcpserver exposes trove's operations as MCP tools on the
// official Go SDK: memory_store, memory_recall (alias memory_search),
// memory_get, memory_update, memory_forget, memory_list, memory_stats,
// memory_history and memory_revert,
// with typed argument and result schemas. It serves one session over
// stdio, or any number over streamable HTTP (Handler).
//
// A failed call is a tool error whose text is the same JSON as a REST
// error, {"error":{"code":"not_found","message":"..."}}, so an agent can
// branch on the code and read what to do in the message.
//
// The caller's agent is the X-Trove-Agent header of the HTTP request that
// carries the call, else Options.Agent (stdio: --agent); none is the
// store's owner.
//
//	s := mcpserver.New(svc, mcpserver.Options{Agent: "bot"})
//	err := s.Serve(ctx, &mcp.StdioTransport{}) // returns when stdin closes or ctx ends
package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/version"
)

// Observer records tool calls (the HTTP server's metrics implement it).
type Observer interface {
	ObserveTool(tool, code string, d time.Duration)
}

// Options configure a Server.
type Options struct {
	// Agent is the caller of calls that name none (stdio: --agent).
	Agent    string
	Observer Observer
	// DrainTimeout bounds how long Serve waits for running calls at
	// shutdown (default 30 s).
	DrainTimeout time.Duration
}

// Server is trove's MCP server.
type Server struct {
	svc  *service.Service
	opts Options
	mcp  *mcp.Server

	mu      sync.Mutex
	active  int
	closing bool
	idle    chan struct{} // closed when closing and no call is running
}

// Tool names.
const (
	ToolStore  = "memory_store"
	ToolRecall = "memory_recall"
	ToolSearch = "memory_search"
	ToolDebug  = "memory_debug" // memory_recall with debug
	ToolGet    = "memory_get"
	ToolUpdate = "memory_update"
	ToolForget = "memory_forget"
	ToolList   = "memory_list"
	ToolStats  = "memory_stats"
	// History and undo.
	ToolHistory = "memory_history"
	ToolRevert  = "memory_revert"
	// Smart capture and facts over time.
	ToolCapture       = "memory_capture"
	ToolCaptureStatus = "memory_capture_status"
	ToolFactQuery     = "memory_fact_query"
	// Governance, as memory-lancedb-pro names it.
	ToolPromote = "memory_promote"
	ToolArchive = "memory_archive"
	ToolCompact = "memory_compact"
	// Auto-recall: the block to inject before a turn, and feedback on it.
	ToolRecallContext = "memory_recall_context"
	ToolFeedback      = "memory_feedback"
)

const instructions = "trove is long-term memory shared across sessions and agents. " +
	"Call memory_recall before answering anything that may depend on earlier conversations (preferences, decisions, facts about people and projects). " +
	"Call memory_store for durable, self-contained statements worth keeping; not for chit-chat or secrets. " +
	"Ids may be given as a unique prefix of at least 8 characters. " +
	`A failed call returns {"error":{"code","message"}}: the message says what to do.`

// New builds the server and registers the tools.
func New(svc *service.Service, opts Options) *Server {
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 30 * time.Second
	}
	s := &Server{svc: svc, opts: opts, idle: make(chan struct{})}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: "trove", Title: "trove memory", Version: version.Get().Version},
		&mcp.ServerOptions{Instructions: instructions, Capabilities: &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{}}})
	s.mcp.AddReceivingMiddleware(s.middleware)
	s.register()
	return s
}

// MCP returns the underlying SDK server.
func (s *Server) MCP() *mcp.Server { return s.mcp }

// Handler serves MCP over streamable HTTP. It is stateless: every POST
// carries a whole exchange and nothing outlives it, so a graceful HTTP
// shutdown finishes running calls and leaves no stream open.
func (s *Server) Handler() http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true, MaxRequestBodyBytes: 1 << 20})
}

// Serve serves one session over t (stdio) until the client hangs up or ctx
// is done. At end of input it first answers every request already read
// (waiting at most DrainTimeout). On ctx's end it stops taking calls, waits
// for the running ones (at most DrainTimeout), then closes the session. A
// client hanging up or a shutdown is a clean end (nil).
func (s *Server) Serve(ctx context.Context, t mcp.Transport) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.mcp.Run(runCtx, answerFirst{t: t, wait: s.opts.DrainTimeout}) }()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, io.EOF) || errors.Is(err, mcp.ErrConnectionClosed) || errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	dctx, dcancel := context.WithTimeout(context.Background(), s.opts.DrainTimeout)
	defer dcancel()
	err := s.Drain(dctx)
	cancel()
	<-done
	return err
}

// Drain stops taking tool calls (new ones get unavailable) and waits until
// the running ones end or ctx is done.
func (s *Server) Drain(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		if s.active == 0 {
			close(s.idle)
		}
	}
	s.mu.Unlock()
	select {
	case <-s.idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.active++
	return true
}

func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	if s.closing && s.active == 0 {
		close(s.idle)
	}
}

// middleware counts and times tool calls, holds shutdown until running
// calls end, and gives every tool error its code.
func (s *Server) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method != "tools/call" {
			return next(ctx, method, req)
		}
		name := "unknown"
		if r, ok := req.(*mcp.CallToolRequest); ok && r.Params != nil && isTool(r.Params.Name) {
			name = r.Params.Name
		}
		start := time.Now()
		if !s.enter() {
			e := service.Unavailable("the server is shutting down: retry in a moment")
			s.observe(name, string(e.Code), time.Since(start))
			return errorResult(e), nil
		}
		defer s.leave()
		res, err := next(ctx, method, req)
		code := "ok"
		if err != nil {
			code = "protocol_error"
		} else if r, ok := res.(*mcp.CallToolResult); ok && r.IsError {
			e := toolError(r.GetError())
			setError(r, e)
			code = string(e.Code)
		}
		s.observe(name, code, time.Since(start))
		return res, err
	}
}

func (s *Server) observe(tool, code string, d time.Duration) {
	if s.opts.Observer != nil {
		s.opts.Observer.ObserveTool(tool, code, d)
	}
}

// toolError classifies the error behind a tool error result. Errors that
// are not ours come from the SDK checking the arguments against the
// tool's input schema.
func toolError(err error) *service.Error {
	var se *service.Error
	switch {
	case errors.As(err, &se):
		return se
	case err == nil:
		return &service.Error{Code: service.CodeInternal, Message: "the tool failed without saying why"}
	}
	msg := strings.TrimPrefix(err.Error(), `validating "arguments": `)
	return &service.Error{Code: service.CodeInvalid, Err: err,
		Message: "the arguments do not match the tool's input schema (" + msg + "): fix them and call again"}
}

func setError(r *mcp.CallToolResult, e *service.Error) {
	b, _ := json.Marshal(e.Body())
	r.Content = []mcp.Content{&mcp.TextContent{Text: string(b)}}
	r.StructuredContent = nil
	r.IsError = true
}

func errorResult(e *service.Error) *mcp.CallToolResult {
	r := &mcp.CallToolResult{}
	setError(r, e)
	return r
}

// caller is who makes the call: the request's X-Trove-Agent header on
// HTTP, else the configured agent.
func (s *Server) caller(req *mcp.CallToolRequest) (service.Caller, error) {
	agent := s.opts.Agent
	if req != nil && req.Extra != nil && req.Extra.Header != nil {
		if h := strings.TrimSpace(req.Extra.Header.Get(service.AgentHeader)); h != "" {
			agent = h
		}
	}
	return service.Caller{Agent: agent}, service.CheckAgent(agent)
}
