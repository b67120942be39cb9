package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newStoreCommand(a *app) *cobra.Command {
	var category, scope, importance, metadata, id, file string
	var asJSON, force bool
	cmd := &cobra.Command{
		Use:   "store TEXT | store - | store --file FILE",
		Short: "Store a memory and print its id",
		Long: "Store one memory. The text is the argument, or standard input with -, or the contents of\n" +
			"--file (a memory is a statement: up to 32 KiB; split longer documents into several memories).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := storeText(cmd, args, file)
			if err != nil {
				return err
			}
			in := service.StoreInput{ID: id, Text: text, Category: category, Scope: scope, Force: force}
			if cmd.Flags().Changed("importance") {
				f, err := parseImportance(importance)
				if err != nil {
					return err
				}
				in.Importance = &f
			}
			if metadata != "" {
				if in.Metadata, err = parseMetadata(metadata); err != nil {
					return err
				}
			}
			svc, err := a.writer(cmd.Context())
			if err != nil {
				return err
			}
			m, err := svc.Store(cmd.Context(), a.caller(), in)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), m)
			}
			switch m.Outcome {
			case service.StoreDuplicate:
				fmt.Fprintf(cmd.ErrOrStderr(), "duplicate: %s already says this (nothing stored; --force stores it anyway)\n", m.ID)
			case service.StoreSuperseded:
				fmt.Fprintf(cmd.ErrOrStderr(), "superseded: %s (kept as history)\n", strings.Join(m.Supersedes, ", "))
			}
			fmt.Fprintln(cmd.OutOrStdout(), m.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&category, "category", "", "preference, fact, decision, entity, reflection or other (default other)")
	f.StringVar(&scope, "scope", "", "global, agent:<id>, user:<id>, project:<id> or custom:<name> (default global)")
	f.StringVar(&importance, "importance", "0.7", "0 to 1")
	f.StringVar(&metadata, "metadata", "", "JSON object of extra fields")
	f.StringVar(&id, "id", "", "use this id instead of a new UUID")
	f.StringVar(&file, "file", "", "read the text from this file")
	f.BoolVar(&asJSON, "json", false, "print the stored memory and its outcome (created, duplicate, superseded) as JSON")
	f.BoolVar(&force, "force", false, "store even when a stored memory of the scope says the same")
	return cmd
}

// storeText is the memory's text: the argument, stdin (-), or --file.
// Input read from a stream loses one trailing newline, which editors and
// echo add; the service refuses an empty text.
func storeText(cmd *cobra.Command, args []string, file string) (string, error) {
	switch {
	case file != "" && len(args) > 0:
		return "", usagef("give the text as an argument or with --file, not both")
	case file != "":
		b, err := readLimited(file, nil)
		if err != nil {
			return "", err
		}
		return trimNewline(b), nil
	case len(args) == 0:
		return "", usagef("no text: give it as an argument, - to read standard input, or --file FILE")
	case args[0] == "-":
		b, err := readLimited("standard input", cmd.InOrStdin())
		if err != nil {
			return "", err
		}
		return trimNewline(b), nil
	}
	return args[0], nil
}

// readLimited reads a file (or r) of at most a memory's size plus one
// byte, so that an oversized input is refused by the service's limit
// without reading gigabytes first.
func readLimited(name string, r io.Reader) (string, error) {
	if r == nil {
		f, err := os.Open(name)
		if err != nil {
			return "", withHint(fmt.Errorf("--file: %w", err), "give the path of a readable text file")
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, service.MaxTextBytes+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return string(b), nil
}

func trimNewline(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}
