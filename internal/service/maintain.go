package service

import (
	"context"
	"time"

	"github.com/trove-memory/trove/internal/doctor"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/upgrade"
)

// UpgradeInput configures an upgrade run (see internal/upgrade).
type UpgradeInput struct {
	Scopes        []string
	Limit         int // at most this many rows; 0: all
	BatchSize     int // rows per commit; 0: DefaultUpgradeBatch
	Concurrency   int // LLM calls in flight; 0: DefaultUpgradeConcurrency
	NoLLM         bool
	RedoFallbacks bool
	DryRun        bool
	// Progress, if set, is called after each commit.
	Progress func(UpgradeProgress)
}

// UpgradeReport is the outcome of an upgrade; its JSON is a contract.
type UpgradeReport = upgrade.Report

// UpgradeProgress is reported after each commit.
type UpgradeProgress = upgrade.Progress

// Upgrade turns legacy rows into smart rows: LLM calls with no lock held,
// each batch committed in one short write that re-checks every row. An
// interrupted run (ctx cancelled) commits what was enriched and reports
// Interrupted; running it again finishes the rest.
func (s *Service) Upgrade(ctx context.Context, c Caller, in UpgradeInput) (UpgradeReport, error) {
	acc, err := s.access(c)
	if err != nil {
		return UpgradeReport{}, err
	}
	if in.Limit < 0 {
		return UpgradeReport{}, Invalid("limit %d is negative: give a number of rows, or 0 for all", in.Limit)
	}
	batch, err := limit("batch size", in.BatchSize, DefaultUpgradeBatch, MaxUpgradeBatch)
	if err != nil {
		return UpgradeReport{}, err
	}
	conc, err := limit("concurrency", in.Concurrency, DefaultUpgradeConcurrency, MaxUpgradeConcurrency)
	if err != nil {
		return UpgradeReport{}, err
	}
	req, err := parseScopes(in.Scopes)
	if err != nil {
		return UpgradeReport{}, err
	}
	scopes, ignored := readScopes(acc, req)
	if len(ignored) > 0 {
		return UpgradeReport{}, ErrorOf(&memory.ScopeDeniedError{Scope: ignored[0]})
	}
	u := &upgrade.Upgrader{Store: s.opts.Store, Access: acc, Scopes: scopes, Limit: in.Limit, BatchSize: batch,
		Concurrency: conc, RedoFallbacks: in.RedoFallbacks, Progress: in.Progress}
	if in.DryRun {
		rep, err := u.DryRun(ctx)
		if err != nil {
			return rep, ErrorOf(err)
		}
		return rep, nil
	}
	if !in.NoLLM {
		if s.opts.LLM == nil {
			return UpgradeReport{}, Unavailable("no LLM is configured for upgrade: set TROVE_LLM_BASE_URL and TROVE_LLM_MODEL (and TROVE_LLM_API_KEY), or enrich without one (trove upgrade --no-llm)")
		}
		if u.LLM, err = s.opts.LLM(); err != nil {
			return UpgradeReport{}, Unavailable("the LLM client could not be set up: %s", err.Error())
		}
	}
	rep, err := u.Run(ctx)
	if err != nil && !rep.Interrupted {
		return rep, ErrorOf(err)
	}
	return rep, nil
}

// DoctorInput configures a doctor run.
type DoctorInput struct {
	// Repair performs the safe fixes under the write lock.
	Repair bool
	// LongTransaction, when positive, is the age at which a database
	// server's transaction holding locks is reported (Options.Doctor's
	// otherwise).
	LongTransaction time.Duration
}

// DoctorReport is the doctor's verdict; its JSON is a contract.
type DoctorReport = doctor.Report

// Doctor checks the whole store and, with Repair, performs the safe
// fixes. Only the owner may run it: it reads every scope.
func (s *Service) Doctor(ctx context.Context, c Caller, in DoctorInput) (DoctorReport, error) {
	acc, err := s.access(c)
	if err != nil {
		return DoctorReport{}, err
	}
	if !acc.All() {
		return DoctorReport{}, Invalid("doctor checks the whole store and is for its owner: run it without an agent")
	}
	ds, ok := s.opts.Store.(doctor.Store)
	if !ok {
		return DoctorReport{}, Unavailable("this kind of store (%T) has no checks", s.opts.Store)
	}
	opts := s.opts.Doctor
	opts.Repair = in.Repair
	if in.LongTransaction > 0 {
		opts.LongTransaction = in.LongTransaction
	}
	return doctor.Run(ctx, ds, opts), nil
}

// DoctorMissing is the doctor's report on a store file that does not exist.
func DoctorMissing(path string) DoctorReport { return doctor.Missing(path) }

// DoctorOpenFailed is the doctor's report on a store that cannot be opened.
func DoctorOpenFailed(path string, err error) DoctorReport { return doctor.OpenFailed(path, err) }

// DoctorFail is the status of a failed check.
const DoctorFail = doctor.Fail

// DoctorWarn is the status of a warning.
const DoctorWarn = doctor.Warn
