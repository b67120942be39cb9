// Package cli is trove's command line: one file per subcommand, each a
// newXxxCommand that hands off to a plain function writing to the
// command's output. Errors print as "error: ..." and, where one helps,
// "try: ...". --json output is a contract relied on by scripts.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/config"
	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/llm"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/retrieve"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/version"
)

// Deps are the constructors the composition root (cmd/trove) wires in.
type Deps struct {
	Getenv      func(string) string
	Stdin       io.Reader
	OpenStore   func(ctx context.Context, cfg config.Config, command string) (store.Store, error)
	NewEmbedder func(cfg config.Embedding) (embedding.Embedder, error)
	NewLLM      func(cfg config.LLM) (llm.Client, error)
	// NewSearcher builds the recall pipeline over an open store.
	NewSearcher func(st store.Store, emb embedding.Embedder, cfg config.Config) (*retrieve.Retriever, error)
}

// app is the state shared by subcommands: settings and lazily opened
// store and providers.
type app struct {
	deps    Deps
	cfg     config.Config
	dbFlag  string
	agent   string
	command string
	st      store.Store
	emb     embedding.Embedder
}

// NewRoot builds the trove command tree.
func NewRoot(deps Deps) *cobra.Command {
	root, _ := newRoot(deps)
	return root
}

func newRoot(deps Deps) (*cobra.Command, *app) {
	a := &app{deps: deps}
	root := &cobra.Command{
		Use:           "trove",
		Short:         "Long-term memory for AI agents",
		Long:          "trove stores and recalls memories (preferences, facts, decisions, lessons) for AI agents.\nMany processes share one store safely; the CLI manages it.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return a.setup(cmd)
		},
	}
	root.Version = version.Get().Version
	root.SetVersionTemplate(versionText())
	root.PersistentFlags().StringVar(&a.dbFlag, "db", "", "store file (env TROVE_DB; default $XDG_DATA_HOME/trove/trove.db)")
	root.PersistentFlags().StringVar(&a.agent, "agent", "", "act as this agent: reach only global, agent:<id> and granted scopes")
	root.AddCommand(
		newStoreCommand(a), newGetCommand(a), newUpdateCommand(a), newDeleteCommand(a), newDeleteBulkCommand(a),
		newListCommand(a), newStatsCommand(a), newExportCommand(a), newImportCommand(a), newUpgradeCommand(a),
		newSearchCommand(a),
		newServeCommand(a),
		newDoctorCommand(a),
		newVersionCommand(),
	)
	return root, a
}

func (a *app) setup(cmd *cobra.Command) error {
	cfg, err := config.Load(a.deps.Getenv)
	if err != nil {
		return err
	}
	if a.dbFlag != "" {
		cfg.DB = a.dbFlag
	}
	if err := cfg.Validate(); err != nil {
		return withHint(err, "fix the setting named above (environment TROVE_*, or the config file)")
	}
	if a.agent != "" {
		if _, err := memory.ParseScope(string(memory.AgentScope(a.agent))); err != nil {
			return fmt.Errorf("--agent %q: %w", a.agent, err)
		}
	}
	a.cfg = cfg
	a.command = "trove " + cmd.Name()
	return nil
}

// access is what this invocation may reach.
func (a *app) access() memory.Access { return a.cfg.Access(a.agent) }

func (a *app) store(ctx context.Context) (store.Store, error) {
	if a.st == nil {
		st, err := a.deps.OpenStore(ctx, a.cfg, a.command)
		if err != nil {
			return nil, err
		}
		a.st = st
	}
	return a.st, nil
}

func (a *app) embedder() (embedding.Embedder, error) {
	if a.emb == nil {
		e, err := a.deps.NewEmbedder(a.cfg.Embedding)
		if err != nil {
			return nil, err
		}
		a.emb = e
	}
	return a.emb, nil
}

// embedOne embeds one text, before any write lock is taken.
func (a *app) embedOne(ctx context.Context, text string) ([]float32, error) {
	e, err := a.embedder()
	if err != nil {
		return nil, err
	}
	vs, err := e.Embed(ctx, []string{text})
	if err != nil {
		return nil, withHint(fmt.Errorf("embed text: %w", err), "check the embedding provider settings (TROVE_EMBED_*), or use TROVE_EMBED_PROVIDER=hash offline")
	}
	if err := embedding.CheckVectors(vs, 1, 0); err != nil {
		return nil, fmt.Errorf("embedding provider reply: %w", err)
	}
	return vs[0], nil
}

// searcher opens the store and builds the recall pipeline.
func (a *app) searcher(ctx context.Context) (*retrieve.Retriever, error) {
	st, err := a.store(ctx)
	if err != nil {
		return nil, err
	}
	emb, err := a.embedder()
	if err != nil {
		return nil, err
	}
	return a.deps.NewSearcher(st, emb, a.cfg)
}

// Close releases what the commands opened.
func (a *app) close() error {
	if a.st != nil {
		return a.st.Close()
	}
	return nil
}

// Execute runs the CLI with args and returns the process exit code.
func Execute(ctx context.Context, deps Deps, args []string, stdout, stderr io.Writer) int {
	root, a := newRoot(deps)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetIn(deps.Stdin)
	err := root.ExecuteContext(ctx)
	// Closing commits queued writes and checkpoints; its error counts.
	if cerr := a.close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		printError(stderr, err)
		var ue *usageError
		if errors.As(err, &ue) || isCobraUsage(err) {
			return 2
		}
		return 1
	}
	return 0
}

func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
