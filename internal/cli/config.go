package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/config"
)

func newConfigCommand(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective settings and where each came from",
		Long: "Print every setting with its effective value and its source: default, file PATH, env TROVE_* or flag --FLAG.\n" +
			"API keys and tokens are masked. docs/CONFIG.md describes each setting.",
		Args: cobra.NoArgs,
		// Looking at the settings is how a user finds the wrong one, so
		// this command prints them even when they do not validate (and
		// then fails with the validation error).
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return withHint(err, "fix the setting named above (environment TROVE_*, or the config file)")
			}
			if err := printConfig(cmd.OutOrStdout(), cfg, asJSON); err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return withHint(err, "fix the setting named above (environment TROVE_*, or the config file)")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

// loadConfig reads defaults, the config file and the environment, and
// applies the command-line flags over them.
func (a *app) loadConfig() (config.Config, error) {
	cfg, err := config.Load(a.deps.Getenv)
	if err != nil {
		return cfg, err
	}
	if a.dbFlag != "" {
		if err := cfg.SetFlag("db", a.dbFlag); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

type configJSON struct {
	File     configFileJSON `json:"file"`
	Settings []settingJSON  `json:"settings"`
}

type configFileJSON struct {
	Path   string `json:"path"`
	Loaded bool   `json:"loaded"`
}

type settingJSON struct {
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Source string `json:"source"`
	From   string `json:"from,omitempty"`
	Secret bool   `json:"secret,omitempty"`
}

func printConfig(w io.Writer, cfg config.Config, asJSON bool) error {
	path, loaded := cfg.File()
	settings := cfg.Settings()
	if asJSON {
		out := configJSON{File: configFileJSON{Path: path, Loaded: loaded}, Settings: []settingJSON{}}
		for _, s := range settings {
			out.Settings = append(out.Settings, settingJSON{Key: s.Key, Value: s.Value, Source: s.Source.Kind, From: s.Source.Name, Secret: s.Secret})
		}
		return writeJSON(w, out)
	}
	state := "read"
	if !loaded {
		state = "not found; defaults and environment only"
	}
	fmt.Fprintf(w, "config file: %s (%s)\n\n", path, state)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\tSOURCE")
	for _, s := range settings {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, valueText(s.Value), s.Source)
	}
	return tw.Flush()
}

func valueText(v any) string {
	if s, ok := v.(string); ok {
		if s == "" {
			return `""`
		}
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
