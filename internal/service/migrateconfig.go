package service

import (
	"errors"
	"io/fs"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/migrate"
)

// MigrateConfigReport is memory-lancedb-pro's configuration as trove's,
// and what has no equivalent.
type MigrateConfigReport = migrate.ConfigResult

// MigrateConfig reads the memory-lancedb-pro section of an openclaw.json
// and returns the equivalent trove configuration (migrate.ConvertConfig).
// It needs no store.
func MigrateConfig(path string) (MigrateConfigReport, error) {
	res, err := migrate.ConvertConfig(path)
	if errors.Is(err, fs.ErrNotExist) {
		return res, &Error{Code: CodeNotFound, Err: memory.ErrNotFound, Message: err.Error() + ": give the path of openclaw.json"}
	}
	if err != nil {
		return res, Invalid("%s", err.Error())
	}
	return res, nil
}
