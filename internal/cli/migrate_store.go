package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/dburl"
	"github.com/trove-memory/trove/internal/service"
)

func newMigrateStoreCommand(a *app) *cobra.Command {
	var from, to string
	var resume, asJSON bool
	var batch int
	cmd := &cobra.Command{
		Use:   "migrate-store --from STORE --to STORE",
		Short: "Copy a whole store to another backend (SQLite file <-> PostgreSQL), verified row by row",
		Long: "Copy every row of a store into an empty one, as it is: memories with their ids, revisions, timestamps,\n" +
			"metadata and both vector slots (nothing is embedded again), the embedding identity, history, tombstones,\n" +
			"erasures, the capture buffer and jobs, tier moves and injections. Then compare the two row by row.\n" +
			"A store is sqlite:PATH (or a bare PATH) or a postgres:// URL. Stop the source's writers first.\n" +
			"A copy that stopped (killed, failed) continues with --resume, without duplicates.\n\n" +
			"  trove migrate-store --from sqlite:~/.local/share/trove/trove.db --to postgres://trove@db/trove",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if a.agent != "" {
				return usagef("migrate-store copies the whole store, every scope: run it as the owner, without --agent")
			}
			src, err := storeArg("--from", from)
			if err != nil {
				return err
			}
			dst, err := storeArg("--to", to)
			if err != nil {
				return err
			}
			if src == dst {
				return usagef("--from and --to name the same store (%s): give another store as --to", dburl.Redact(src))
			}
			if a.deps.StoreOpener == nil {
				return errors.New("this build of trove cannot open a second store")
			}
			fromName, toName := dburl.Redact(src), dburl.Redact(dst)
			errw := cmd.ErrOrStderr()
			opts := service.MigrateStoreOptions{From: fromName, To: toName, Resume: resume, Batch: batch}
			if !asJSON {
				last, at := "", time.Now()
				opts.Progress = func(table string, done, total int64) {
					if table != last || done == total || time.Since(at) > 2*time.Second {
						fmt.Fprintf(errw, "%s: %d of %d\n", table, done, total)
						at = time.Now()
					}
					last = table
				}
			}
			res, err := service.MigrateStoreBetween(ctx, a.deps.StoreOpener(a.cfg, a.command), src, dst, opts)
			var verr *service.VerifyError
			var oerr *service.OpenStoreError
			switch {
			case errors.As(err, &oerr) && oerr.Target:
				return withHint(fmt.Errorf("--to %w", err), "--to must be a new file, or a PostgreSQL database that exists (createdb) and is empty")
			case errors.As(err, &oerr):
				return withHint(fmt.Errorf("--from %w", err), "check that --from names the store to copy")
			}
			if err != nil && !errors.As(err, &verr) {
				var ne *service.TargetNotEmptyError
				if errors.As(err, &ne) {
					return withHint(err, "copy into a new store, or add --resume to continue a copy that stopped")
				}
				if len(res.Tables) > 0 {
					return withHint(err, "fix the cause, then run the same command with --resume: the copied batches are kept")
				}
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if jerr := writeJSON(w, res); jerr != nil {
					return jerr
				}
			} else {
				for _, t := range res.Tables {
					line := fmt.Sprintf("%-18s %8d rows copied", t.Table, t.Copied)
					if t.Skipped > 0 {
						line += fmt.Sprintf(", %d already there", t.Skipped)
					}
					fmt.Fprintf(w, "%s, %d verified\n", line, t.Verified)
				}
				fmt.Fprintf(w, "copied %d rows from %s to %s in %.1f s (%.0f rows/s); verified in %.1f s\n",
					res.Rows, fromName, toName, float64(res.CopyMS)/1000, res.RowsPerSec, float64(res.VerifyMS)/1000)
			}
			if err != nil {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the store to copy: sqlite:PATH, a PATH, or a postgres:// URL")
	f.StringVar(&to, "to", "", "the empty store to copy into: sqlite:PATH, a PATH, or a postgres:// URL")
	f.BoolVar(&resume, "resume", false, "continue a copy into --to that stopped")
	f.IntVar(&batch, "batch", 500, "rows per write transaction (1 to 10000)")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}

// storeArg is a --from or --to value as a store setting: sqlite:PATH and
// a bare PATH are a SQLite file, a postgres:// URL a PostgreSQL database.
func storeArg(flag, v string) (string, error) {
	if v == "" {
		return "", usagef("%s is required: sqlite:PATH, a PATH, or a postgres:// URL", flag)
	}
	if p, ok := strings.CutPrefix(v, "sqlite:"); ok {
		if p == "" {
			return "", usagef("%s sqlite: names no file: write sqlite:PATH", flag)
		}
		return expandHome(p), nil
	}
	if err := dburl.Validate(v); err != nil {
		return "", usagef("%s: %s", flag, err.Error())
	}
	if dburl.IsPostgres(v) {
		return v, nil
	}
	return expandHome(v), nil
}

// expandHome turns a leading ~/ into the home directory (a shell leaves
// sqlite:~/... as it is).
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}
