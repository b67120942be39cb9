// Package cli is trove's command line: one file per subcommand, each a
// newXxxCommand that parses flags, calls internal/service (the one path
// every front end takes) and prints the answer. It holds no logic of its
// own: the CLI, REST and MCP give the same answer and the same error for
// the same request. Errors print as "error: ..." and, where one helps,
// "try: ..."; the exit code says what kind of failure it was (see
// ExitCode). --json output is a contract relied on by scripts.
package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/config"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/version"
)

// Deps are what the composition root (cmd/trove) wires in.
type Deps struct {
	Getenv func(string) string
	Stdin  io.Reader
	// Open builds the service over the configured store and providers.
	// Without o.Create it fails with *service.NoStoreError when there is
	// no store at cfg.DB.
	Open func(ctx context.Context, cfg config.Config, o OpenOptions) (*service.Service, error)
	// StoreOpener returns what opens a store by itself (a file or a
	// postgres:// URL), without providers or the embedding check:
	// migrate-store copies one store into another.
	StoreOpener func(cfg config.Config, command string) service.StoreOpener
}

// OpenOptions say what a command needs of the store.
type OpenOptions struct {
	// Command names the process in the lock holder record ("trove import").
	Command string
	// Create makes the store when it does not exist (commands that write
	// new memories: store, import, serve).
	Create bool
	// Serve is a long-lived server: recall records which memories it
	// returned (access counts), and the service runs maintenance.
	Serve bool
}

// app is the state shared by subcommands: settings and the lazily opened
// service.
type app struct {
	deps    Deps
	cfg     config.Config
	dbFlag  string
	agent   string
	command string
	svc     *service.Service
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
	root.PersistentFlags().StringVar(&a.dbFlag, "db", "", "store: a file, or a postgres:// URL for a PostgreSQL database (env TROVE_DB; default $XDG_DATA_HOME/trove/trove.db)")
	root.PersistentFlags().StringVar(&a.agent, "agent", "", "act as this agent: reach only global, agent:<id> and reflection:agent:<id>, or its agentAccess list")
	root.AddCommand(
		newStoreCommand(a), newGetCommand(a), newUpdateCommand(a), newDeleteCommand(a), newDeleteBulkCommand(a), newHistoryCommand(a), newRevertCommand(a), newRestoreCommand(a),
		newListCommand(a), newStatsCommand(a), newExportCommand(a), newImportCommand(a), newUpgradeCommand(a),
		newImportMarkdownCommand(a), newSyncCommand(a),
		newMigrateCommand(a), newMigrateStoreCommand(a),
		newSearchCommand(a), newRecallContextCommand(a), newReembedCommand(a),
		newCaptureCommand(a), newFactsCommand(a),
		newPromoteCommand(a), newArchiveCommand(a), newCompactCommand(a),
		newServeCommand(a),
		newDoctorCommand(a), newMaintainCommand(a),
		newConfigCommand(a),
		newMCPConfigCommand(a),
		newVersionCommand(),
	)
	return root, a
}

func (a *app) setup(cmd *cobra.Command) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return withHint(err, "fix the setting named above (environment TROVE_*, or the config file)")
	}
	if err := service.CheckAgent(a.agent); err != nil {
		return usagef("--agent: %s", err.Error())
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: config: %s\n", w)
	}
	a.cfg = cfg
	a.command = "trove " + cmd.Name()
	return nil
}

// caller is who this invocation acts as: the --agent, or the owner.
func (a *app) caller() service.Caller { return service.Caller{Agent: a.agent} }

// service opens the store (creating it only when create is set) and
// builds the service, once per invocation.
func (a *app) service(ctx context.Context, create bool) (*service.Service, error) {
	if a.svc == nil {
		svc, err := a.deps.Open(ctx, a.cfg, OpenOptions{Command: a.command, Create: create})
		if err != nil {
			return nil, &openError{err}
		}
		a.svc = svc
	}
	return a.svc, nil
}

// reader opens the service for a command that only reads or changes
// existing memories: a missing store is an error, not a new empty store.
func (a *app) reader(ctx context.Context) (*service.Service, error) { return a.service(ctx, false) }

// writer opens the service for a command that adds memories.
func (a *app) writer(ctx context.Context) (*service.Service, error) { return a.service(ctx, true) }

// close releases what the commands opened.
func (a *app) close() error {
	if a.svc == nil {
		return nil
	}
	return a.svc.Close(context.Background())
}

// Execute runs the CLI with args and returns the process exit code (see
// ExitCode).
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
	}
	return ExitCode(err)
}
