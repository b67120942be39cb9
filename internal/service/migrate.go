package service

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/migrate"
)

// MigrateInput says which memory-lancedb-pro store to move into trove.
type MigrateInput struct {
	// From is the LanceDB directory; "": the config's dbPath, else
	// memory-lancedb-pro's default location.
	From string
	// SourceModel is the embedding model the store's vectors came from;
	// Config, an openclaw.json to read it (and dbPath) from. Vectors are
	// kept only when the model and dimensions are trove's; otherwise (or
	// when unknown) the importer embeds the text again.
	SourceModel string
	Config      string
	// DefaultScope and LegacyImportance are passed on to the import.
	DefaultScope     string
	LegacyImportance bool
	DryRun           bool
	BatchSize        int
	// Notify hears progress: the exporter's first-use install, its report.
	Notify func(string)
	// Exporter runs the LanceDB exporter (nil: the default one).
	Exporter *migrate.Exporter
}

// MigrateReport is the outcome of a migration.
type MigrateReport struct {
	From        string `json:"from"`
	SourceRows  int    `json:"source_rows"`
	Dimensions  int    `json:"dimensions"`
	SourceModel string `json:"source_model,omitempty"`
	// Vectors is "kept" or "re-embedded"; VectorsWhy says why.
	Vectors    string       `json:"vectors"`
	VectorsWhy string       `json:"vectors_why"`
	Import     ImportReport `json:"import"`
}

func (in *MigrateInput) exporter() *migrate.Exporter {
	if in.Exporter != nil {
		return in.Exporter
	}
	return &migrate.Exporter{Notify: in.Notify}
}

// migrateError turns the migration's errors into the service's.
func migrateError(err error) error {
	var me *migrate.Error
	if !errors.As(err, &me) {
		return ErrorOf(err)
	}
	code := CodeInternal
	switch me.Kind {
	case migrate.NoStore:
		code = CodeNotFound
	case migrate.InstallFailed:
		code = CodeUnavailable
	}
	return &Error{Code: code, Message: me.Message, Hint: me.Hint, Err: err}
}

// source resolves the store path and the source model from the input.
func (in *MigrateInput) source() (path, model string, dims int, err error) {
	home, _ := os.UserHomeDir()
	path, model = in.From, in.SourceModel
	if in.Config != "" {
		sc, err := migrate.ReadOpenClawConfig(in.Config, home)
		if err != nil {
			return "", "", 0, Invalid("config: %s", err.Error())
		}
		if model == "" {
			model, dims = sc.Model, sc.Dimensions
		}
		if path == "" {
			path = sc.DBPath
		}
	}
	if path == "" {
		path = migrate.DefaultLocations(home)[0]
	}
	return filepath.Clean(path), model, dims, nil
}

// Migrate reads a memory-lancedb-pro LanceDB store with the embedded
// exporter (Node) and imports every row through Import, which maps
// memory-lancedb-pro's values to trove's and reports each adjustment.
// Vectors are carried over when the source model and dimensions are
// trove's; otherwise the importer embeds the rows in bulk, before each
// batch's write lock. Importing the same store again adds nothing.
func (s *Service) Migrate(ctx context.Context, c Caller, in MigrateInput) (MigrateReport, error) {
	if _, err := s.access(c); err != nil {
		return MigrateReport{}, err
	}
	path, model, cfgDims, err := in.source()
	if err != nil {
		return MigrateReport{}, err
	}
	ex := in.exporter()
	info, err := ex.Count(ctx, path)
	if err != nil {
		return MigrateReport{From: path}, migrateError(err)
	}
	rep := MigrateReport{From: path, SourceRows: info.Rows, Dimensions: info.Dims, SourceModel: model}
	keep, why, err := s.keepVectors(ctx, model, cfgDims, info.Dims)
	if err != nil {
		return rep, err
	}
	rep.Vectors, rep.VectorsWhy = "re-embedded", why
	if keep {
		rep.Vectors = "kept"
	}
	rc, err := ex.Export(ctx, path, migrate.ExportOptions{Vectors: keep && !in.DryRun})
	if err != nil {
		return rep, migrateError(err)
	}
	imp, ierr := s.Import(ctx, c, ImportInput{Reader: rc, DryRun: in.DryRun, BatchSize: in.BatchSize,
		DefaultScope: in.DefaultScope, LegacyImportance: in.LegacyImportance})
	rep.Import = imp
	cerr := rc.Close()
	if ierr != nil {
		return rep, ierr
	}
	if cerr != nil {
		return rep, migrateError(cerr)
	}
	return rep, nil
}

// keepVectors decides whether the store's vectors can be used as they are.
func (s *Service) keepVectors(ctx context.Context, model string, cfgDims, dims int) (bool, string, error) {
	if model == "" {
		return false, "the source model is unknown (give --source-model or --config openclaw.json to keep vectors)", nil
	}
	if cfgDims > 0 && dims > 0 && cfgDims != dims {
		return false, fmt.Sprintf("the config says %d dimensions, the store's vectors have %d", cfgDims, dims), nil
	}
	sp, err := s.opts.Store.Space(ctx)
	if err != nil {
		return false, "", ErrorOf(err)
	}
	tModel, tDims := sp.Model, sp.Dimensions
	if d, ok := s.opts.Embedder.(embedding.Describer); ok {
		info := d.Info()
		if tModel == "" {
			tModel = info.Model
		}
		if tDims == 0 {
			tDims = info.Dimensions
		}
	}
	if model != tModel || dims != tDims || dims == 0 {
		return false, fmt.Sprintf("the source model %s (%d dimensions) is not trove's %s (%d dimensions)", model, dims, tModel, tDims), nil
	}
	return true, fmt.Sprintf("the source model %s (%d dimensions) is trove's", model, dims), nil
}

// FoundStore is a memory-lancedb-pro store in a default location.
type FoundStore struct {
	Path  string `json:"path"`
	Found bool   `json:"found"`
	Rows  int    `json:"rows"`
	Dims  int    `json:"dims"`
	Error string `json:"error,omitempty"`
}

// MigrateCheckInput says where to look.
type MigrateCheckInput struct {
	Home     string // "": the user's home directory
	Notify   func(string)
	Exporter *migrate.Exporter
}

// MigrateCheck looks for memory-lancedb-pro stores in the default locations
// and counts their rows. A store that cannot be counted is listed with the
// reason; when Node is missing, the error says how to get it.
func MigrateCheck(ctx context.Context, in MigrateCheckInput) ([]FoundStore, error) {
	home := in.Home
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	ex := (&MigrateInput{Exporter: in.Exporter, Notify: in.Notify}).exporter()
	var out []FoundStore
	var first error
	for _, p := range migrate.DefaultLocations(home) {
		st, err := os.Stat(p)
		f := FoundStore{Path: p, Found: err == nil && st.IsDir()}
		if f.Found {
			info, err := ex.Count(ctx, p)
			if err != nil {
				f.Error = err.Error()
				var me *migrate.Error
				if errors.As(err, &me) && me.Kind == migrate.NoStore {
					f.Found = false
				} else if first == nil {
					first = migrateError(err)
				}
			}
			f.Rows, f.Dims = info.Rows, info.Dims
		}
		out = append(out, f)
	}
	return out, first
}

// MigrateVerifyInput says which store to compare with trove's.
type MigrateVerifyInput struct {
	From, Config string
	// DefaultScope is the scope the import gave null or blank scopes.
	DefaultScope string
	// Rows asks for every row's outcome in the report.
	Rows     bool
	Notify   func(string)
	Exporter *migrate.Exporter
}

// VerifyReport is the outcome of a verification.
type VerifyReport struct {
	From       string `json:"from"`
	SourceRows int    `json:"source_rows"`
	Same       int    `json:"same"`
	Adjusted   int    `json:"adjusted"`  // rows with documented adjustments only
	Different  int    `json:"different"` // rows with a real difference (or missing)
	Missing    int    `json:"missing"`
	// Adjustments counts rows per reason (migrate.Reasons).
	Adjustments map[string]int `json:"adjustments"`
	// Differences lists the real differences (the first MaxVerifyDifferences).
	Differences []migrate.Difference `json:"differences"`
	RowsOut     []VerifyRow          `json:"rows,omitempty"`
}

// VerifyRow is one row's outcome: same, adjusted or different.
type VerifyRow struct {
	ID       string   `json:"id"`
	Outcome  string   `json:"outcome"`
	Adjusted []string `json:"adjusted,omitempty"`
}

// MigrateReasons describes each adjustment reason of a VerifyReport.
var MigrateReasons = migrate.Reasons

// MaxVerifyDifferences bounds the differences a report lists.
const MaxVerifyDifferences = 1000

// MigrateVerify compares a memory-lancedb-pro store with trove's, row by
// row (ids, text, scope, category, importance, timestamps, metadata). Each
// documented adjustment the import makes is counted as such; anything else
// is a difference, and any difference makes the error non-nil.
func (s *Service) MigrateVerify(ctx context.Context, c Caller, in MigrateVerifyInput) (VerifyReport, error) {
	acc, err := s.access(c)
	if err != nil {
		return VerifyReport{}, err
	}
	mi := MigrateInput{From: in.From, Config: in.Config, Notify: in.Notify, Exporter: in.Exporter}
	path, _, _, err := mi.source()
	if err != nil {
		return VerifyReport{}, err
	}
	rep := VerifyReport{From: path, Adjustments: map[string]int{}, Differences: []migrate.Difference{}}
	rc, err := mi.exporter().Export(ctx, path, migrate.ExportOptions{})
	if err != nil {
		return rep, migrateError(err)
	}
	defer rc.Close()
	opts := migrate.CompareOptions{DefaultScope: in.DefaultScope}
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var src migrate.SourceRow
		if err := json.Unmarshal(sc.Bytes(), &src); err != nil {
			return rep, fmt.Errorf("exporter line %d: %w", line, err)
		}
		rep.SourceRows++
		var tgt *memory.Memory
		if src.ID != "" {
			m, err := s.opts.Store.Get(ctx, acc, src.ID)
			switch {
			case err == nil:
				tgt = &m
			case !errors.Is(err, memory.ErrNotFound):
				return rep, ErrorOf(err)
			}
		}
		res := migrate.Compare(src, tgt, opts)
		row := VerifyRow{ID: src.ID, Adjusted: res.Adjusted}
		switch {
		case len(res.Differences) > 0:
			rep.Different++
			row.Outcome = "different"
			if tgt == nil {
				rep.Missing++
			}
			for _, d := range res.Differences {
				if len(rep.Differences) < MaxVerifyDifferences {
					rep.Differences = append(rep.Differences, d)
				}
			}
		case len(res.Adjusted) > 0:
			rep.Adjusted++
			row.Outcome = "adjusted"
			for _, r := range dedupe(res.Adjusted) {
				rep.Adjustments[r]++
			}
		default:
			rep.Same++
			row.Outcome = "same"
		}
		if in.Rows {
			rep.RowsOut = append(rep.RowsOut, row)
		}
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("reading the exporter's output: %w", err)
	}
	if err := rc.Close(); err != nil {
		return rep, migrateError(err)
	}
	if rep.Different > 0 {
		return rep, &Error{Code: CodeInternal, Message: fmt.Sprintf("%d of %d rows differ between %s and trove (listed above)", rep.Different, rep.SourceRows, path),
			Hint: "import the rows again (trove migrate --from " + path + "; rows already present are skipped), or check the differences by hand"}
	}
	return rep, nil
}

func dedupe(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	j := 0
	for i := range out {
		if i == 0 || out[i] != out[j-1] {
			out[j] = out[i]
			j++
		}
	}
	return out[:j]
}
