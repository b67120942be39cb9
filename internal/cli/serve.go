package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/dburl"
	"github.com/trove-memory/trove/internal/httpapi"
	"github.com/trove-memory/trove/internal/mcpserver"
	"github.com/trove-memory/trove/internal/memory"
)

// minTokenLen is the shortest bearer token serve accepts.
const minTokenLen = 16

// shutdownGrace bounds how long in-flight requests may run after a signal.
const shutdownGrace = 30 * time.Second

func newServeCommand(a *app) *cobra.Command {
	var httpAddr, tokenFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve agents: MCP over stdio, or MCP and a REST API over HTTP",
		Long: "Serve the store to agents. By default trove speaks MCP over stdin/stdout, for an agent host that\n" +
			"starts it as a subprocess; --agent names the calling agent (none: the owner, every scope).\n\n" +
			"--http ADDR serves MCP (streamable HTTP) at /mcp and the REST API under /v1 on one listener, with\n" +
			"/healthz and /metrics. The agent of a request is its X-Trove-Agent header. ADDR without a host\n" +
			"(\":7777\" or \"7777\") binds 127.0.0.1. Binding any other address needs a bearer token, from\n" +
			"TROVE_TOKEN or --token-file (the owner's), or auth.tokens / TROVE_TOKENS=tok=agent:alice,...\n" +
			"(each bound to owner, agent:<id> or agents:<pattern>); without one serve refuses to start.\n\n" +
			"SIGINT or SIGTERM stops taking requests, finishes the running ones, commits and exits 0.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), a, httpAddr, tokenFile, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "", "serve MCP at /mcp and REST at /v1 over HTTP on this address (e.g. 127.0.0.1:7777)")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "read the bearer token from this file (else TROVE_TOKEN)")
	return cmd
}

func runServe(ctx context.Context, a *app, httpAddr, tokenFile string, stdin io.Reader, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var addr, token string
	var tokens map[string]memory.Principal
	var loopback bool
	if httpAddr != "" {
		var err error
		if addr, loopback, err = bindAddress(httpAddr); err != nil {
			return err
		}
		if token, err = a.serveToken(tokenFile); err != nil {
			return err
		}
		if tokens, err = a.cfg.Auth.Principals(); err != nil {
			return err
		}
		if !loopback && token == "" && len(tokens) == 0 {
			return withHint(fmt.Errorf("refusing to serve on %s without a token: anyone who can reach that address could read and change every memory", addr),
				"set TROVE_TOKEN (or --token-file) to a random secret of at least 16 characters, or bind 127.0.0.1")
		}
	}

	svc, err := a.deps.Open(ctx, a.cfg, OpenOptions{Command: a.command, Create: true, Serve: true})
	if err != nil {
		return &openError{err}
	}
	a.svc = svc // closed by Execute: the access tracker's last counts are written, then the store closes
	if !svc.HasSearcher() {
		log.Warn("recall is unavailable: the search pipeline did not start")
	}
	if httpAddr == "" {
		srv := mcpserver.New(svc, mcpserver.Options{Agent: a.agent, DrainTimeout: shutdownGrace})
		log.Info("serving MCP on stdio", "agent", agentName(a.agent), "db", dburl.Redact(a.cfg.DB))
		err := srv.Serve(ctx, &mcp.IOTransport{Reader: abandonable(stdin), Writer: nopWriteCloser{stdout}})
		log.Info("stopped")
		return err
	}

	metrics := httpapi.NewMetrics(svc)
	metrics.Start()
	defer metrics.Close()
	srv := mcpserver.New(svc, mcpserver.Options{Agent: a.agent, Observer: metrics, DrainTimeout: shutdownGrace})
	h := httpapi.New(httpapi.Options{Service: svc, MCP: srv.Handler(), Metrics: metrics, Token: token,
		Tokens: tokens, Agent: a.agent, LocalOnly: loopback && token == "" && len(tokens) == 0, Logger: log})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return withHint(fmt.Errorf("listen on %s: %w", addr, err), "choose another port with --http, or stop what uses this one")
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	log.Info("serving", "mcp", url+"/mcp", "rest", url+"/v1", "auth", authName(token, len(tokens)), "default_agent", agentName(a.agent), "db", dburl.Redact(a.cfg.DB))

	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("stopping: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("stop http server: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("stopped")
	return nil
}

// bindAddress reads --http: a bare port (":7777" or "7777") binds
// 127.0.0.1. It reports whether the address is loopback-only.
func bindAddress(s string) (string, bool, error) {
	if !strings.Contains(s, ":") {
		s = ":" + s
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || port == "" {
		return "", false, usagef("--http %q: give host:port or a port, e.g. 127.0.0.1:7777", s)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	loopback := strings.EqualFold(host, "localhost") || ip != nil && ip.IsLoopback()
	return net.JoinHostPort(host, port), loopback, nil
}

// serveToken reads the bearer token: --token-file, else TROVE_TOKEN.
func (a *app) serveToken(file string) (string, error) {
	tok, from := a.deps.Getenv("TROVE_TOKEN"), "TROVE_TOKEN"
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		tok, from = string(b), "--token-file "+file
		if strings.TrimSpace(tok) == "" {
			return "", fmt.Errorf("%s is empty: put the token in it", from)
		}
	}
	tok = strings.TrimSpace(tok)
	if tok != "" && len(tok) < minTokenLen {
		// Never print the token itself, not even in this error.
		return "", withHint(fmt.Errorf("the token from %s is %d characters: use at least %d", from, len(tok), minTokenLen),
			"generate one, e.g. openssl rand -hex 32")
	}
	return tok, nil
}

func agentName(a string) string {
	if a == "" {
		return "(owner)"
	}
	return a
}

func authName(token string, bound int) string {
	switch {
	case bound > 0 && token != "":
		return fmt.Sprintf("bearer tokens (owner + %d bound)", bound)
	case bound > 0:
		return fmt.Sprintf("bearer tokens (%d bound)", bound)
	case token != "":
		return "bearer token (owner)"
	}
	return "none (loopback only)"
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// abandonable returns a reader of r whose Close unblocks a pending Read at
// once: a read blocked on stdin cannot be interrupted otherwise, and the
// session must be able to end while the host keeps stdin open.
func abandonable(r io.Reader) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, r)
		pw.CloseWithError(err)
	}()
	return pr
}
