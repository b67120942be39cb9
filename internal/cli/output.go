package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printMemory(w io.Writer, m service.Memory) {
	fmt.Fprintf(w, "id:         %s\n", m.ID)
	fmt.Fprintf(w, "scope:      %s\n", m.Scope)
	fmt.Fprintf(w, "category:   %s\n", m.Category)
	fmt.Fprintf(w, "importance: %g\n", m.Importance)
	fmt.Fprintf(w, "format:     %s\n", formatName(m.Format))
	fmt.Fprintf(w, "created:    %s\n", fmtTime(m.CreatedAt))
	fmt.Fprintf(w, "updated:    %s (revision %d)\n", fmtTime(m.UpdatedAt), m.Revision)
	if len(m.Metadata) > 0 {
		b, _ := json.Marshal(m.Metadata)
		fmt.Fprintf(w, "metadata:   %s\n", b)
	}
	fmt.Fprintf(w, "\n%s\n", m.Text)
}

// printRow is one line of a listing. The id is whole, so it can be pasted
// into get, update or delete whatever other ids share its prefix.
func printRow(w io.Writer, m service.Memory) {
	text := oneLine(m.Text, 72)
	if m.Inactive != "" {
		text = "(" + m.Inactive + ") " + oneLine(m.Text, 60)
	}
	fmt.Fprintf(w, "%s  %s  %-16s %-10s  %s\n", m.ID, time.UnixMilli(m.CreatedAt).UTC().Format("2006-01-02"),
		m.Scope, m.Category, text)
}

// printWarnings writes a read's warnings (ignored scopes, degraded
// paths) to stderr, where they do not mix with the answer.
func printWarnings(cmd *cobra.Command, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
	}
}

func formatName(f memory.Format) string {
	if f == memory.FormatSmart {
		return "smart"
	}
	return "legacy"
}

func fmtTime(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
