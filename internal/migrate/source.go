package migrate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultLocations are where memory-lancedb-pro keeps its store (its
// getDefaultDbPath), then the older memory-lancedb plugin's stores that its
// migrate command reads (src/migrate.ts getDefaultLegacyPaths), under home.
func DefaultLocations(home string) []string {
	return []string{
		filepath.Join(home, ".openclaw", "memory", "lancedb-pro"),
		filepath.Join(home, ".openclaw", "memory", "lancedb"),
		filepath.Join(home, ".claude", "memory", "lancedb"),
	}
}

// PluginName is memory-lancedb-pro's entry in openclaw.json.
const PluginName = "memory-lancedb-pro"

// SourceConfig is what an openclaw.json says about memory-lancedb-pro's
// store: the embedding model its vectors came from, and where it is.
type SourceConfig struct {
	Model      string // embedding.model
	Dimensions int    // embedding.dimensions (0: not set)
	DBPath     string // dbPath, with ~ expanded ("" : the default location)
}

// ReadOpenClawConfig reads plugins.entries["memory-lancedb-pro"].config
// from an openclaw.json. The file may have // and /* */ comments and
// trailing commas, as OpenClaw (JSON5) allows.
func ReadOpenClawConfig(path, home string) (SourceConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return SourceConfig{}, err
	}
	var doc struct {
		Plugins struct {
			Entries map[string]struct {
				Config struct {
					DBPath    string `json:"dbPath"`
					Embedding struct {
						Model      string `json:"model"`
						Dimensions int    `json:"dimensions"`
					} `json:"embedding"`
				} `json:"config"`
			} `json:"entries"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(relaxJSON(b), &doc); err != nil {
		return SourceConfig{}, fmt.Errorf("%s: not JSON that trove can read (%v): give the model with --source-model instead", path, err)
	}
	e, ok := doc.Plugins.Entries[PluginName]
	if !ok {
		return SourceConfig{}, fmt.Errorf("%s has no plugins.entries[%q]: give the model with --source-model instead", path, PluginName)
	}
	sc := SourceConfig{Model: e.Config.Embedding.Model, Dimensions: e.Config.Embedding.Dimensions, DBPath: e.Config.DBPath}
	if sc.DBPath == "~" || strings.HasPrefix(sc.DBPath, "~/") {
		sc.DBPath = filepath.Join(home, strings.TrimPrefix(sc.DBPath[1:], "/"))
	}
	return sc, nil
}

// relaxJSON removes comments and trailing commas outside strings, which
// JSON5 files such as openclaw.json may have.
func relaxJSON(b []byte) []byte {
	// Comments first, so a comment between a trailing comma and its
	// closing bracket does not hide the comma from the second pass.
	return dropTrailingCommas(stripComments(b))
}

// scanJSON copies b, passing strings through whole and every other byte
// (with its index) to other, which writes what it keeps and returns the
// index it consumed up to.
func scanJSON(b []byte, other func(out *bytes.Buffer, b []byte, i int) int) []byte {
	var out bytes.Buffer
	inStr := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inStr:
			out.WriteByte(c)
			if c == '\\' && i+1 < len(b) {
				i++
				out.WriteByte(b[i])
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
			out.WriteByte(c)
		default:
			i = other(&out, b, i)
		}
	}
	return out.Bytes()
}

func stripComments(b []byte) []byte {
	return scanJSON(b, func(out *bytes.Buffer, b []byte, i int) int {
		switch {
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '/':
			for i < len(b) && b[i] != '\n' {
				i++
			}
			out.WriteByte('\n')
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '*':
			i += 2
			for i+1 < len(b) && !(b[i] == '*' && b[i+1] == '/') {
				i++
			}
			i++
		default:
			out.WriteByte(b[i])
		}
		return i
	})
}

func dropTrailingCommas(b []byte) []byte {
	return scanJSON(b, func(out *bytes.Buffer, b []byte, i int) int {
		if b[i] == ',' {
			j := i + 1
			for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
				j++
			}
			if j < len(b) && (b[j] == '}' || b[j] == ']') {
				return i
			}
		}
		out.WriteByte(b[i])
		return i
	})
}
