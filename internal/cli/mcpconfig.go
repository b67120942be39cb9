package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/dburl"
)

// The MCP configuration files of the agent hosts `trove mcp-config` writes
// for. Each struct holds exactly the fields its host documents for a local
// (stdio) server, so that decoding with unknown fields disallowed checks a
// snippet against the host's format (see readme_test.go).

// claudeDesktopFile is claude_desktop_config.json, documented at
// https://modelcontextprotocol.io/docs/develop/connect-local-servers
// ("mcpServers": name -> {"command", "args", "env"}).
type claudeDesktopFile struct {
	MCPServers map[string]claudeDesktopServer `json:"mcpServers"`
}

type claudeDesktopServer struct {
	Command string            `json:"command"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
}

// claudeCodeFile is Claude Code's project-scope .mcp.json, documented at
// https://code.claude.com/docs/en/mcp ("Project scope": "mcpServers":
// name -> {"type"?, "command", "args", "env"}; type is "stdio" for a
// local server and may be left out).
type claudeCodeFile struct {
	MCPServers map[string]claudeCodeServer `json:"mcpServers"`
}

type claudeCodeServer struct {
	Type    string            `json:"type,omitempty"`
	Command string            `json:"command"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
}

// cursorFile is Cursor's .cursor/mcp.json (or ~/.cursor/mcp.json),
// documented at https://cursor.com/docs/context/mcp ("STDIO server
// configuration": "mcpServers": name -> {"type"?, "command", "args",
// "env", "envFile"}).
type cursorFile struct {
	MCPServers map[string]cursorServer `json:"mcpServers"`
}

type cursorServer struct {
	Type    string            `json:"type,omitempty"`
	Command string            `json:"command"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	EnvFile string            `json:"envFile,omitempty"`
}

// mcpHosts are the hosts --host accepts, in the order help lists them.
var mcpHosts = []string{"claude-desktop", "claude-code", "cursor"}

func newMCPConfigCommand(a *app) *cobra.Command {
	var host string
	cmd := &cobra.Command{
		Use:   "mcp-config --host claude-desktop|claude-code|cursor",
		Short: "Print the MCP server entry that makes an agent host start trove",
		Long: "Print the JSON that registers `trove serve` with an agent host, for this machine: the absolute path\n" +
			"of this binary and of the store (TROVE_DB). With --agent ID the server acts as that agent.\n" +
			"Where to put it is printed on stderr.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find this binary's path: %w", err)
			}
			return runMCPConfig(cmd.OutOrStdout(), cmd.ErrOrStderr(), a, host, exe)
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "the agent host: "+strings.Join(mcpHosts, ", "))
	return cmd
}

func runMCPConfig(stdout, stderr io.Writer, a *app, host, exe string) error {
	if !slices.Contains(mcpHosts, host) {
		return usagef("--host %q: use one of %s", host, strings.Join(mcpHosts, ", "))
	}
	db := a.cfg.DB // a PostgreSQL URL is taken as it is
	if !dburl.IsPostgres(db) {
		var err error
		if db, err = filepath.Abs(a.cfg.DB); err != nil {
			return fmt.Errorf("store path %s: %w", a.cfg.DB, err)
		}
	}
	args := []string{"serve"}
	if a.agent != "" {
		args = append(args, "--agent", a.agent)
	}
	env := map[string]string{"TROVE_DB": db}
	// A host starts trove without the user's shell environment, so a
	// config file chosen by TROVE_CONFIG must be named again.
	if path, loaded := a.cfg.File(); loaded && a.deps.Getenv("TROVE_CONFIG") != "" {
		if abs, err := filepath.Abs(path); err == nil {
			env["TROVE_CONFIG"] = abs
		}
	}
	var doc any
	switch host {
	case "claude-desktop":
		doc = claudeDesktopFile{MCPServers: map[string]claudeDesktopServer{"trove": {Command: exe, Args: args, Env: env}}}
	case "claude-code":
		doc = claudeCodeFile{MCPServers: map[string]claudeCodeServer{"trove": {Command: exe, Args: args, Env: env}}}
	case "cursor":
		doc = cursorFile{MCPServers: map[string]cursorServer{"trove": {Command: exe, Args: args, Env: env}}}
	}
	if err := writeJSON(stdout, doc); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "put the \"trove\" entry under \"mcpServers\" in %s\n", hostConfigFile(host))
	if strings.Contains(exe, "go-build") {
		fmt.Fprintln(stderr, "warning: this binary is a temporary `go run` build that will be deleted; run mcp-config from an installed trove (go install ./cmd/trove)")
	}
	return nil
}

// hostConfigFile says where the host reads its MCP servers on this system.
func hostConfigFile(host string) string {
	switch host {
	case "claude-desktop":
		switch runtime.GOOS {
		case "darwin":
			return "~/Library/Application Support/Claude/claude_desktop_config.json"
		case "windows":
			return `%APPDATA%\Claude\claude_desktop_config.json`
		}
		return "claude_desktop_config.json (Claude Desktop > Settings > Developer > Edit Config)"
	case "claude-code":
		return ".mcp.json at the root of your project"
	}
	return ".cursor/mcp.json in your project, or ~/.cursor/mcp.json for every project"
}
