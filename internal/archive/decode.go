package archive

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/trove-memory/trove/internal/memory"
)

// Item is one row of an import file, decoded and validated. When Err is
// set the row is unusable; Memory then holds what could be read (at least
// the id when it was readable).
type Item struct {
	Pos       string // "line 12" (JSON Lines) or "memories[3]" (memory-lancedb-pro)
	Memory    memory.Memory
	HasVector bool // the row carried a non-empty vector (in Memory.Vector)
	// Adjusted lists what was changed to keep the row (Adjust* reasons),
	// each at most once.
	Adjusted []string
	// NoID: the row had no id. An import gives it one derived from its
	// natural key (NaturalID), so importing the file again adds nothing.
	NoID bool
	Err  error
}

// Reasons a row was adjusted to be kept rather than refused (Item.Adjusted,
// Report.Adjustments). docs/IMPORT.md describes each.
const (
	AdjustScopeDefaulted      = "scope_defaulted"       // null or blank scope: the default scope
	AdjustCategoryUnknown     = "category_unknown"      // unknown category: other, original in metadata.original_category
	AdjustTimestampSeconds    = "timestamp_seconds"     // timestamp below 1e12: seconds, ×1000
	AdjustLastAccessedSeconds = "last_accessed_seconds" // metadata.last_accessed_at below 1e12: seconds, ×1000
	AdjustImportanceLegacy    = "importance_legacy"     // 1-5 scale mapped (DecodeOptions.LegacyImportance)
	AdjustImportanceClamped   = "importance_clamped"    // outside [0,1]: clamped
	AdjustImportanceInvalid   = "importance_invalid"    // not a finite number: 0.7
	AdjustMetadataFolded      = "metadata_folded"       // accessCount/lastAccessedAt folded into access_count/last_accessed_at
	AdjustMetadataNotJSON     = "metadata_not_json"     // metadata not a JSON object: kept in metadata.raw_metadata
	AdjustIDDerived           = "id_derived"            // no id: one derived from scope, text and created time
)

// Metadata keys an import adds to keep what it could not use as it was.
const (
	KeyOriginalCategory = "original_category"
	KeyRawMetadata      = "raw_metadata"
)

// DecodeOptions say how to read values memory-lancedb-pro allowed and trove
// does not.
type DecodeOptions struct {
	// DefaultScope is the scope of a row whose scope is null or blank
	// (default global).
	DefaultScope memory.Scope
	// LegacyImportance reads a whole importance from 1 to 5 as
	// memory-lancedb-pro's old scale: 1→0.20, 2→0.40, 3→0.60, 4→0.80,
	// 5→0.95 (so 1 is 0.20, not 1.0). Otherwise importance is clamped to [0,1].
	LegacyImportance bool
}

// maxRowBytes bounds one row: a JSON Lines line, or one element of a
// memory-lancedb-pro memories array (a memory with a 4096-float vector is
// about 50 KiB). Only this much of a file is held at a time, whatever its
// size. A variable so tests can lower it.
var maxRowBytes = 64 << 20

const (
	// defaultImportance is what the plugin gives a memory with none.
	defaultImportance = 0.7
	// maxTimestamp (2100-01-01T00:00:00Z in ms) catches microseconds and
	// nanoseconds given where milliseconds belong.
	maxTimestamp = 4102444800000
	// secondsBelow: a timestamp under this is unix seconds, as
	// memory-lancedb-pro reads it (1e12 ms is 2001-09-09).
	secondsBelow = 1e12
)

var utf8BOM = []byte("\xef\xbb\xbf")

// Decode reads an import file and calls fn for each row, in file order. The
// format is told from the content, not a file name: if the first JSON value
// is an object with a "memories" array and nothing follows it, the file is
// a memory-lancedb-pro export; otherwise it is JSON Lines (blank lines are
// ignored). Either is read a row at a time, so memory use does not grow
// with the file.
//
// A bad row is an Item with Err set (an *ItemError) and the rows after it
// still come. A problem with the file as a whole (empty, not JSON, an
// object without a memories array) is returned as a *FileError before any
// item. Damage inside a memory-lancedb-pro export that the JSON decoder
// cannot read past (a truncated file, a syntax error, data after the
// object) ends reading with a *StopError, after the rows before it. A read
// error is returned as it happens. If fn returns an error, Decode stops
// and returns it.
func Decode(r io.Reader, fn func(Item) error) error {
	_, err := decode(r, DecodeOptions{}, fn)
	return err
}

// DecodeWith is Decode with options.
func DecodeWith(r io.Reader, opts DecodeOptions, fn func(Item) error) error {
	_, err := decode(r, opts, fn)
	return err
}

// decode is Decode that also tells the format it found ("" when the file
// was rejected before that was known).
func decode(r io.Reader, opts DecodeOptions, fn func(Item) error) (string, error) {
	if opts.DefaultScope == "" {
		opts.DefaultScope = memory.GlobalScope
	}
	d := &decoder{
		lr:   lineReader{br: bufio.NewReaderSize(r, 64<<10)},
		fn:   fn,
		seen: map[string]int{},
		opts: opts,
	}
	return d.run()
}

type decoder struct {
	opts    DecodeOptions
	adj     []string // the row being read's adjustments
	lr      lineReader
	fn      func(Item) error
	lancedb bool
	// seen maps each id to the line number or memories index it was first
	// seen at, to report duplicates within the file.
	seen map[string]int
}

func (d *decoder) run() (string, error) {
	if b, _ := d.lr.br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
		_, _ = d.lr.br.Discard(len(utf8BOM))
	}
	first, tooLong, err := d.lr.nextNonBlank()
	switch {
	case err == io.EOF:
		return "", &FileError{Reason: "the file is empty: there is nothing to import (give a file written by trove export or by memory-lancedb-pro's memory export)"}
	case err != nil:
		return "", readError(err)
	case tooLong:
		// A row that long can only be damage; report it as a row so the
		// rest of a JSON Lines file still goes in.
		return FormatTroveJSONL, d.jsonLines(d.lr.n, first, true)
	}
	firstLine := d.lr.n
	trimmed := bytes.TrimSpace(first)
	if trimmed[0] != '{' {
		return "", &FileError{Reason: fmt.Sprintf("line %d is not a JSON object (it starts with %s): give trove JSON Lines (one memory object per line, as trove export writes) or a memory-lancedb-pro export (one JSON object with a memories array)",
			firstLine, quoteStart(trimmed))}
	}
	if json.Valid(trimmed) {
		if !hasMemoriesArray(trimmed) {
			return FormatTroveJSONL, d.jsonLines(firstLine, first, false)
		}
		// A one-line export object; it is the lancedb-pro format only if
		// nothing follows it.
		doc := bytes.Clone(trimmed)
		next, nextLong, err := d.lr.nextNonBlank()
		switch {
		case err == io.EOF:
			return d.document(bytes.NewReader(doc), firstLine)
		case err != nil:
			return "", readError(err)
		}
		if err := d.line(firstLine, doc, false); err != nil {
			return FormatTroveJSONL, err
		}
		return FormatTroveJSONL, d.jsonLines(d.lr.n, next, nextLong)
	}
	// The first line is not a JSON value on its own: the file must be one
	// multi-line (pretty-printed) JSON document, as memory-lancedb-pro
	// writes it. A JSON Lines file whose first line is damaged lands here
	// too, and is rejected whole: its format cannot be told.
	src := io.MultiReader(bytes.NewReader(append(bytes.Clone(first), '\n')), &errTagReader{r: d.lr.br})
	return d.document(src, firstLine)
}

// jsonLines handles first (line n, already read) and then every following
// line as JSON Lines rows.
func (d *decoder) jsonLines(n int, first []byte, firstTooLong bool) error {
	if err := d.line(n, first, firstTooLong); err != nil {
		return err
	}
	for {
		line, tooLong, err := d.lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return readError(err)
		}
		if err := d.line(d.lr.n, line, tooLong); err != nil {
			return err
		}
	}
}

func (d *decoder) line(n int, line []byte, tooLong bool) error {
	pos := "line " + strconv.Itoa(n)
	if tooLong {
		return d.emit(pos, memory.Memory{}, false, fmt.Sprintf("the line is longer than %s: it is not a memory (a memory with a 4096-float vector is about 50 KiB); the file is probably damaged: remove the line", size(maxRowBytes)))
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil
	}
	m, hasVec, problem := d.row(line, n)
	return d.emit(pos, m, hasVec, problem)
}

func (d *decoder) emit(pos string, m memory.Memory, hasVec bool, problem string) error {
	it := Item{Pos: pos, Memory: m, HasVector: hasVec}
	if problem != "" {
		it.Err = &ItemError{Pos: pos, ID: m.ID, Reason: problem}
	} else {
		it.Adjusted, it.NoID = d.adj, m.ID == ""
	}
	d.adj = nil
	return d.fn(it)
}

// adjust notes that the row being read was adjusted for reason.
func (d *decoder) adjust(reason string) {
	if !slices.Contains(d.adj, reason) {
		d.adj = append(d.adj, reason)
	}
}

// document streams a memory-lancedb-pro export from src, whose first line
// is line startLine of the file: the top-level object's members are read
// one by one, and the memories array one element at a time. Until the
// array starts nothing has been emitted, so a problem is a *FileError;
// after that it is a *StopError and the rows before it stand.
func (d *decoder) document(src io.Reader, startLine int) (string, error) {
	tr := &trackReader{r: src, line: startLine, col: 1}
	dec := json.NewDecoder(tr)
	// The file's first byte is '{' (checked by run), so this reads it.
	if _, err := dec.Token(); err != nil {
		return "", d.headerError(tr, err, startLine)
	}
	found := false
	for dec.More() {
		if found {
			tr.mark(dec.InputOffset())
		}
		tok, err := dec.Token()
		if err != nil {
			return d.formatIf(found), d.documentError(tr, found, err, startLine)
		}
		key, _ := tok.(string)
		if key != "memories" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return d.formatIf(found), d.documentError(tr, found, err, startLine)
			}
			continue
		}
		if found {
			l, c := tr.lineCol(dec.InputOffset())
			return FormatLanceDBPro, &StopError{Pos: fmt.Sprintf("line %d", l), Reason: fmt.Sprintf("a second memories key at line %d, column %d: an export has one memories array; the rows of the first were read, nothing after it was", l, c)}
		}
		tok, err = dec.Token()
		if err != nil {
			return "", d.headerError(tr, err, startLine)
		}
		if tok != json.Delim('[') {
			return "", &FileError{Reason: fmt.Sprintf("line %d starts a JSON object without a memories array (its memories is %s): it is neither a memory-lancedb-pro export nor JSON Lines (one memory object per line)",
				startLine, tokenKind(tok))}
		}
		found, d.lancedb = true, true
		if err := d.memories(tr, dec); err != nil {
			return FormatLanceDBPro, err
		}
	}
	if !found {
		if _, err := dec.Token(); err != nil { // the closing '}'
			return "", d.headerError(tr, err, startLine)
		}
		end, _ := tr.lineCol(dec.InputOffset())
		return "", &FileError{Reason: fmt.Sprintf("the file is one JSON object (lines %d to %d) without a memories array: it is neither a memory-lancedb-pro export nor JSON Lines (one memory object per line)",
			startLine, end)}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return FormatLanceDBPro, d.documentError(tr, true, err, startLine)
	}
	end, _ := tr.lineCol(dec.InputOffset())
	tr.mark(dec.InputOffset())
	if _, err := dec.Token(); err != io.EOF {
		var rerr *readErr
		if errors.As(err, &rerr) {
			return FormatLanceDBPro, readError(rerr.err)
		}
		return FormatLanceDBPro, &StopError{Pos: fmt.Sprintf("line %d", end), Reason: fmt.Sprintf("the export's JSON object ends at line %d and more data follows: a memory-lancedb-pro export is exactly one object; every row in it was read, what follows was not", end)}
	}
	return FormatLanceDBPro, nil
}

func (d *decoder) formatIf(found bool) string {
	if found {
		return FormatLanceDBPro
	}
	return ""
}

// memories emits the elements of the memories array, whose '[' dec has
// just read, and reads its ']'. Each element is decoded whole before it is
// looked at, so a syntax error inside it stops reading before it is
// emitted. encoding/json cannot go on after a syntax error, so that
// element and the ones after it are not read.
func (d *decoder) memories(tr *trackReader, dec *json.Decoder) error {
	i := 0
	for dec.More() {
		tr.mark(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return d.stopError(tr, err, i)
		}
		pos := "memories[" + strconv.Itoa(i) + "]"
		m, hasVec, problem := d.row(raw, i)
		if err := d.emit(pos, m, hasVec, problem); err != nil {
			return err
		}
		i++
	}
	tr.mark(dec.InputOffset())
	if _, err := dec.Token(); err != nil { // the closing ']'
		return d.stopError(tr, err, i)
	}
	return nil
}

// stopError describes why element i of the memories array could not be
// read.
func (d *decoder) stopError(tr *trackReader, err error, i int) error {
	var rerr *readErr
	if errors.As(err, &rerr) {
		return readError(rerr.err)
	}
	pos := "memories[" + strconv.Itoa(i) + "]"
	read := fmt.Sprintf("the %s before it were read, nothing from it on", plural(i, "row"))
	if i == 1 {
		read = "the row before it was read, nothing from it on"
	}
	hint := "repair the file, or export it again, and import it again (rows already imported are skipped)"
	if errors.Is(err, errRowTooLarge) {
		l, _ := tr.lineCol(tr.base + int64(tr.valueStart(i > 0)))
		return &StopError{Pos: pos, Reason: fmt.Sprintf("the element starting at line %d is longer than %s: it is not a memory (a memory with a 4096-float vector is about 50 KiB); %s: %s", l, size(maxRowBytes), read, hint)}
	}
	off, problem := tr.locate(i > 0)
	l, c := tr.lineCol(off)
	if problem == "" {
		problem = err.Error()
	}
	if problem == "truncated" {
		return &StopError{Pos: pos, Reason: fmt.Sprintf("the file ends at line %d inside the memories array, so it is truncated; %s: %s", l, read, hint)}
	}
	return &StopError{Pos: pos, Reason: fmt.Sprintf("invalid JSON at line %d, column %d (%s); %s: %s", l, c, problem, read, hint)}
}

// documentError describes a failure to read a top-level member: a
// *StopError once rows have been emitted, else a *FileError.
func (d *decoder) documentError(tr *trackReader, found bool, err error, startLine int) error {
	if !found {
		return d.headerError(tr, err, startLine)
	}
	var rerr *readErr
	if errors.As(err, &rerr) {
		return readError(rerr.err)
	}
	off, problem := tr.locate(true)
	l, c := tr.lineCol(off)
	if problem == "" {
		problem = err.Error()
	}
	if problem == "truncated" {
		return &StopError{Pos: fmt.Sprintf("line %d", l), Reason: fmt.Sprintf("the file ends at line %d inside the export's JSON object, after its memories array: it is truncated; every row was read", l)}
	}
	return &StopError{Pos: fmt.Sprintf("line %d", l), Reason: fmt.Sprintf("invalid JSON at line %d, column %d (%s), after the memories array: every row was read; repair the file", l, c, problem)}
}

// headerError describes a failure before the memories array starts:
// nothing has been emitted, so the file is rejected whole.
func (d *decoder) headerError(tr *trackReader, err error, startLine int) error {
	var rerr *readErr
	if errors.As(err, &rerr) {
		return readError(rerr.err)
	}
	if errors.Is(err, errRowTooLarge) {
		return &FileError{Reason: fmt.Sprintf("line %d starts a JSON document with more than %s before its memories array: that is not a memory-lancedb-pro export; give trove JSON Lines for large imports", startLine, size(maxRowBytes))}
	}
	off, problem := tr.locate(false)
	l, c := tr.lineCol(off)
	switch problem {
	case "truncated":
		return &FileError{Reason: fmt.Sprintf("line %d is not a complete JSON value, and the file ends at line %d still inside it: a memory-lancedb-pro export that is truncated, or JSON Lines whose first row is cut off: export the file again, or repair line %d",
			startLine, l, startLine)}
	case "":
		problem = err.Error()
	}
	return &FileError{Reason: fmt.Sprintf("line %d is not a complete JSON value, and read as one multi-line JSON document the file is invalid at line %d, column %d (%s): repair line %d if this is JSON Lines; export it again if it is a memory-lancedb-pro export",
		startLine, l, c, problem, startLine)}
}

// hasMemoriesArray reports whether doc is an object whose "memories" key
// (spelt exactly so, as the streaming reader matches it) holds an array.
func hasMemoriesArray(doc []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(doc, &top) != nil {
		return false
	}
	m := top["memories"]
	return len(m) > 0 && m[0] == '['
}

func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "an object"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

// rawRow holds a row's fields undecoded, so a wrong JSON type can be
// reported per field. Unknown fields are ignored.
type rawRow struct {
	ID, Text, Category, Scope, Importance  json.RawMessage
	CreatedAt, UpdatedAt, Revision, Format json.RawMessage
	Metadata, Vector                       json.RawMessage
	Timestamp                              json.RawMessage // memory-lancedb-pro
}

// splitRow decodes a row object's top-level members. Keys match exactly
// (encoding/json's struct decoding would also take "Text" for "text"); a
// repeated key's last value wins.
func splitRow(obj []byte) (rawRow, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(obj, &fields); err != nil {
		return rawRow{}, err
	}
	return rawRow{
		ID: fields["id"], Text: fields["text"], Category: fields["category"], Scope: fields["scope"],
		Importance: fields["importance"], CreatedAt: fields["created_at"], UpdatedAt: fields["updated_at"],
		Revision: fields["revision"], Format: fields["format"], Metadata: fields["metadata"],
		Vector: fields["vector"], Timestamp: fields["timestamp"],
	}, nil
}

// row decodes and validates one row. at is its line number or index, for
// duplicate reports. problem is "" when the row is good.
func (d *decoder) row(raw []byte, at int) (m memory.Memory, hasVec bool, problem string) {
	d.adj = nil
	if !utf8.Valid(raw) {
		return m, false, fmt.Sprintf("invalid UTF-8 at byte %d of the row: re-encode the file as UTF-8", invalidUTF8At(raw)+1)
	}
	if raw[0] != '{' {
		if !json.Valid(raw) {
			return m, false, "truncated or invalid JSON: " + jsonProblem(raw) + ": repair or remove the row"
		}
		return m, false, fmt.Sprintf("a row must be a JSON object, got %s: give one memory object per row", kind(raw))
	}
	r, err := splitRow(raw)
	if err != nil {
		if tooDeep(err) {
			return m, false, fmt.Sprintf("the row nests objects or arrays deeper than JSON can be read (%v): metadata may nest to the %d-level limit: flatten it", err, memory.MaxMetadataDepth)
		}
		return m, false, "truncated or invalid JSON: " + err.Error() + ": repair or remove the row"
	}

	// id first, so even a row failing for another reason names its id.
	id, err := stringField("id", r.ID)
	if err != nil {
		return m, false, err.Error()
	}
	if id != "" {
		if err := memory.ValidateID(id); err != nil {
			return m, false, reason(err) + ": fix the id, or remove it to give the row a new one"
		}
		m.ID = id
		if first, dup := d.seen[id]; dup {
			return m, false, fmt.Sprintf("duplicate id %q (first seen at %s): ids must be unique in a file", id, d.pos(first))
		}
		d.seen[id] = at
	}

	text, err := stringField("text", r.Text)
	if err != nil {
		return m, false, err.Error()
	}
	if err := memory.ValidateText(text); err != nil {
		return m, false, reason(err)
	}
	m.Text = text

	// memory-lancedb-pro never validated categories: an unknown one is
	// kept in metadata and the row is "other".
	m.Category = memory.CategoryOther
	var originalCategory any
	if s, err := stringField("category", r.Category); err != nil {
		_ = json.Unmarshal(r.Category, &originalCategory)
	} else if s != "" {
		if c, err := memory.ParseCategory(s); err == nil {
			m.Category = c
		} else {
			originalCategory = s
		}
	}

	// Every well-formed scope is kept, declared or not; a null or blank
	// one (memory-lancedb-pro's "legacy scope", which no reader there
	// sees) takes the default scope.
	if s, err := stringField("scope", r.Scope); err != nil {
		return m, false, err.Error()
	} else if strings.TrimSpace(s) == "" {
		m.Scope = d.opts.DefaultScope
		d.adjust(AdjustScopeDefaulted)
	} else {
		sc, err := memory.ParseScope(strings.TrimSpace(s))
		if err != nil {
			return m, false, reason(err) + ": fix the scope, or make it null to import the row into --default-scope"
		}
		m.Scope = sc
	}

	m.Importance = d.importance(r.Importance)

	if problem := d.times(&m, &r); problem != "" {
		return m, false, problem
	}

	md, problem := d.metadataField(r.Metadata)
	if problem != "" {
		return m, false, problem
	}
	if originalCategory != nil {
		md[KeyOriginalCategory] = originalCategory
		d.adjust(AdjustCategoryUnknown)
	}
	d.foldMetadata(md)
	m.Metadata = md

	m.Format = memory.FormatLegacy
	if memory.MetaString(md, memory.KeyMemoryCategory) != "" {
		m.Format = memory.FormatSmart
	}
	if !d.lancedb {
		if n, lit, ok, err := intField("format", r.Format); err != nil {
			return m, false, err.Error() + ": use 0 (legacy) or 1 (smart)"
		} else if ok {
			if n != int64(memory.FormatLegacy) && n != int64(memory.FormatSmart) {
				return m, false, fmt.Sprintf("format %s is unknown: use 0 (legacy) or 1 (smart), or leave it out", lit)
			}
			m.Format = memory.Format(n)
		}
	}

	vec, problem := vectorField(r.Vector)
	if problem != "" {
		return m, false, problem
	}
	m.Vector = vec

	// Everything else memory.Validate checks has been checked above.
	if err := memory.ValidateMetadata(md); err != nil {
		return m, false, reason(err)
	}
	return m, len(vec) > 0, ""
}

// times sets created_at, updated_at and revision.
func (d *decoder) times(m *memory.Memory, r *rawRow) string {
	if d.lancedb {
		ts, problem := d.timestamp(r.Timestamp)
		if problem != "" {
			return problem
		}
		m.CreatedAt, m.UpdatedAt, m.Revision = ts, ts, 1
		return ""
	}
	created, problem := timestampField("created_at", r.CreatedAt, false)
	if problem != "" {
		return problem
	}
	if isAbsent(r.CreatedAt) && !isAbsent(r.Timestamp) {
		// A hand-made JSON Lines file with the plugin's field name.
		if created, problem = d.timestamp(r.Timestamp); problem != "" {
			return problem
		}
	}
	updated, problem := timestampField("updated_at", r.UpdatedAt, false)
	if problem != "" {
		return problem
	}
	if isAbsent(r.UpdatedAt) {
		updated = created
	}
	m.CreatedAt, m.UpdatedAt = created, updated
	m.Revision = 1
	if n, lit, ok, err := intField("revision", r.Revision); err != nil {
		return err.Error() + ": use a whole number from 1, or leave it out"
	} else if ok {
		if n < 1 {
			return fmt.Sprintf("revision %s is out of range: use a whole number from 1, or leave it out", lit)
		}
		m.Revision = n
	}
	return ""
}

func (d *decoder) pos(at int) string {
	if d.lancedb {
		return "memories[" + strconv.Itoa(at) + "]"
	}
	return "line " + strconv.Itoa(at)
}

func isAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// stringField decodes a JSON string; absent, null and "" give "".
func stringField(name string, raw json.RawMessage) (string, error) {
	if isAbsent(raw) {
		return "", nil
	}
	if raw[0] != '"' {
		return "", fmt.Errorf("%s must be a string, got %s: put it in double quotes", name, describe(raw))
	}
	return unquote(name, raw)
}

// unquote decodes a JSON string literal (from a row already checked to be
// valid JSON). Most strings have no escapes and are copied directly.
func unquote(name string, raw []byte) (string, error) {
	plain := len(raw) >= 2 && raw[len(raw)-1] == '"'
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' || c == '"' || c < 0x20 {
			plain = false
			break
		}
	}
	if plain {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s is not a valid JSON string: %v", name, err)
	}
	return s, nil
}

// numberField decodes a JSON number, keeping its literal for messages. A
// number too large for a float64 (1e400) comes back as ±Inf.
func numberField(name string, raw json.RawMessage) (f float64, lit string, ok bool, err error) {
	if isAbsent(raw) {
		return 0, "", false, nil
	}
	lit = string(raw)
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		if raw[0] == '"' {
			hint := ""
			if inner := raw[1 : len(raw)-1]; len(inner) > 0 && (inner[0] == '-' || inner[0] >= '0' && inner[0] <= '9') && json.Valid(inner) {
				hint = " (write it without quotes)"
			}
			return 0, lit, false, fmt.Errorf("%s must be a number, got the string %s%s", name, shorten(lit), hint)
		}
		return 0, lit, false, fmt.Errorf("%s must be a number, got %s", name, describe(raw))
	}
	f, perr := strconv.ParseFloat(lit, 64)
	if perr != nil && !errors.Is(perr, strconv.ErrRange) {
		return 0, lit, false, fmt.Errorf("%s %s is not a number", name, shorten(lit))
	}
	return f, shorten(lit), true, nil
}

// intField decodes a JSON number that must be a whole number.
func intField(name string, raw json.RawMessage) (n int64, lit string, ok bool, err error) {
	f, lit, ok, err := numberField(name, raw)
	if err != nil || !ok {
		return 0, lit, ok, err
	}
	if math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) >= 1<<62 {
		return 0, lit, false, fmt.Errorf("%s %s is not a whole number in range", name, lit)
	}
	return int64(f), lit, true, nil
}

// timestampField decodes a unix-ms timestamp (0 when absent: the store
// then uses the time of the import). With seconds, a value below
// secondsBelow is taken as legacy unix seconds.
func timestampField(name string, raw json.RawMessage, seconds bool) (int64, string) {
	f, lit, ok, err := numberField(name, raw)
	if err != nil {
		return 0, err.Error() + ": use unix milliseconds"
	}
	if !ok {
		return 0, ""
	}
	if math.IsNaN(f) || f < 0 {
		return 0, fmt.Sprintf("%s %s is negative: use unix milliseconds (since 1970-01-01)", name, lit)
	}
	if seconds {
		// memory-lancedb-pro floors, then reads a value below 1e12 as seconds.
		if f = math.Floor(f); f < secondsBelow {
			f *= 1000
		}
	}
	if !seconds && f != math.Trunc(f) {
		return 0, fmt.Sprintf("%s %s is not a whole number: use unix milliseconds", name, lit)
	}
	if f > maxTimestamp {
		return 0, fmt.Sprintf("%s %s is after the year 2100: use unix milliseconds, not microseconds or nanoseconds", name, lit)
	}
	return int64(math.Round(f)), ""
}

// timestamp reads memory-lancedb-pro's timestamp: unix milliseconds, or
// seconds below 1e12 (counted as an adjustment).
func (d *decoder) timestamp(raw json.RawMessage) (int64, string) {
	if f, _, ok, err := numberField("timestamp", raw); err == nil && ok && f >= 1 && f < secondsBelow {
		d.adjust(AdjustTimestampSeconds)
	}
	return timestampField("timestamp", raw, true)
}

// importance reads an importance as memory-lancedb-pro does: with
// LegacyImportance a whole 1 to 5 is its old scale; otherwise a number is
// clamped to [0,1]; what is not a finite number (NaN, ±Inf, text) is 0.7.
// A number written as a string ("0.8") is read as JavaScript's Number()
// reads it. Absent or null is 0.7 with no adjustment.
func (d *decoder) importance(raw json.RawMessage) float64 {
	if isAbsent(raw) {
		return defaultImportance
	}
	f, _, ok, err := numberField("importance", raw)
	if err != nil || !ok {
		var str string
		if json.Unmarshal(raw, &str) != nil {
			d.adjust(AdjustImportanceInvalid)
			return defaultImportance
		}
		x, perr := strconv.ParseFloat(strings.TrimSpace(str), 64)
		if perr != nil {
			d.adjust(AdjustImportanceInvalid)
			return defaultImportance
		}
		f = x
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		d.adjust(AdjustImportanceInvalid)
		return defaultImportance
	}
	if d.opts.LegacyImportance && f == math.Trunc(f) && f >= 1 && f <= 5 {
		d.adjust(AdjustImportanceLegacy)
		return [...]float64{0, 0.20, 0.40, 0.60, 0.80, 0.95}[int(f)]
	}
	if c := min(1, max(0, f)); c != f {
		d.adjust(AdjustImportanceClamped)
		return c
	}
	return f
}

// foldMetadata moves memory-lancedb-pro's camelCase access fields into
// trove's (the larger value wins where both are set, as both only grow),
// and reads a last_accessed_at below 1e12 as seconds.
func (d *decoder) foldMetadata(md map[string]any) {
	for camel, snake := range map[string]string{"accessCount": memory.KeyAccessCount, "lastAccessedAt": memory.KeyLastAccessedAt} {
		v, ok := memory.MetaNumber(md, camel)
		if !ok {
			continue // not a number: kept as it is, like any unknown key
		}
		if cur, ok := memory.MetaNumber(md, snake); !ok || v > cur {
			md[snake] = v
		}
		delete(md, camel)
		d.adjust(AdjustMetadataFolded)
	}
	if v, ok := memory.MetaNumber(md, memory.KeyLastAccessedAt); ok && v >= 1 && v < secondsBelow {
		md[memory.KeyLastAccessedAt] = math.Floor(v) * 1000
		d.adjust(AdjustLastAccessedSeconds)
	}
}

// metadataField decodes metadata: an object, or a string holding one (the
// plugin stores it as a string). Absent, null and "" give an empty object.
// Anything else (a string that is not a JSON object, an array, a number) is
// kept whole under raw_metadata. Numbers become float64, as they are in
// JavaScript and as the store reads them back.
func (d *decoder) metadataField(raw json.RawMessage) (map[string]any, string) {
	md := map[string]any{}
	if isAbsent(raw) {
		return md, ""
	}
	obj := []byte(raw)
	inString := ""
	keepRaw := func(v any) (map[string]any, string) {
		d.adjust(AdjustMetadataNotJSON)
		return map[string]any{KeyRawMetadata: v}, ""
	}
	switch raw[0] {
	case '{':
	case '"':
		if err := json.Unmarshal(raw, &inString); err != nil {
			return nil, "metadata is not a valid JSON string: " + err.Error()
		}
		obj = bytes.TrimSpace([]byte(inString))
		if len(obj) == 0 {
			return md, ""
		}
		if obj[0] != '{' {
			return keepRaw(inString)
		}
	default:
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Sprintf("metadata cannot be read: %v", err)
		}
		return keepRaw(v)
	}
	if len(obj) > 4*memory.MaxMetadataBytes {
		return nil, fmt.Sprintf("metadata is %d bytes, over the %d-byte limit: remove large values from it", len(obj), memory.MaxMetadataBytes)
	}
	if err := json.Unmarshal(obj, &md); err != nil {
		var se *json.SyntaxError
		switch {
		case tooDeep(err):
			return nil, fmt.Sprintf("metadata nests objects or arrays deeper than the %d-level limit (%v): flatten it, or keep the deep part as a JSON string", memory.MaxMetadataDepth, err)
		case inString != "" && (errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF)):
			return keepRaw(inString)
		}
		return nil, fmt.Sprintf("metadata cannot be read: %v: numbers in metadata must fit in a 64-bit float", err)
	}
	return md, ""
}

// tooDeep reports encoding/json's refusal of input nested over 10,000
// levels.
func tooDeep(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se) && strings.HasSuffix(se.Error(), "exceeded max depth")
}

// vectorField decodes a vector: an array of numbers that fit a float32.
// An empty array is no vector.
func vectorField(raw json.RawMessage) ([]float32, string) {
	if isAbsent(raw) {
		return nil, ""
	}
	if raw[0] != '[' {
		return nil, fmt.Sprintf("vector must be an array of numbers, got %s: fix it, or remove the vector field to re-embed", describe(raw))
	}
	// Entries are decoded raw so that a bad one is named by its index and
	// value, which encoding/json's []float32 decoding does not report.
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, "vector cannot be read: " + err.Error()
	}
	if len(entries) == 0 {
		return nil, ""
	}
	v := make([]float32, len(entries))
	for i, e := range entries {
		if c := e[0]; c != '-' && (c < '0' || c > '9') {
			return nil, fmt.Sprintf("vector entry %d must be a number, got %s: fix it, or remove the vector field to re-embed", i, describe(e))
		}
		f, err := strconv.ParseFloat(string(e), 32)
		if err != nil && (!errors.Is(err, strconv.ErrRange) || math.IsInf(f, 0)) {
			// Underflow to zero or a subnormal is fine; overflow is not.
			return nil, fmt.Sprintf("vector entry %d (%s) is out of range for a 32-bit float: fix it, or remove the vector field to re-embed", i, shorten(string(e)))
		}
		v[i] = float32(f)
	}
	return v, ""
}

// describe names the JSON type of a value, with a short quote of it.
func describe(raw []byte) string {
	k := kind(raw)
	if k == "null" {
		return k
	}
	return k + " (" + shorten(string(raw)) + ")"
}

func kind(raw []byte) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// shorten keeps messages readable when a value is huge.
func shorten(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func quoteStart(b []byte) string {
	return strconv.Quote(shorten(string(b)))
}

// jsonProblem says what is wrong with invalid JSON, in encoding/json's words.
func jsonProblem(raw []byte) string {
	var v any
	err := json.Unmarshal(raw, &v)
	if err == nil {
		return "not a single JSON value"
	}
	return err.Error()
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

func size(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.Itoa(n>>20) + " MiB"
	}
	return strconv.Itoa(n) + " bytes"
}

// errTagReader marks errors of the underlying reader, so they are not
// taken for JSON syntax errors.
type errTagReader struct{ r io.Reader }

type readErr struct{ err error }

func (e *readErr) Error() string { return e.err.Error() }

func (t *errTagReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readErr{err}
	}
	return n, err
}

func readError(err error) error {
	return fmt.Errorf("read import file: %w", err)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// errRowTooLarge is trackReader's refusal to buffer more than maxRowBytes
// of one value.
var errRowTooLarge = errors.New("row too large")

// trackReader feeds a memory-lancedb-pro export to json.Decoder. It keeps
// the bytes read since the last mark (the start of the value being
// decoded), to turn an error's offset into a line and column and to locate
// a syntax error, and it refuses to let one value grow past maxRowBytes, so
// memory stays bounded on any input.
type trackReader struct {
	r    io.Reader
	buf  []byte // bytes read since base
	base int64  // input offset of buf[0]
	line int    // line and column of base
	col  int
}

func (t *trackReader) Read(p []byte) (int, error) {
	// json.Decoder reads only when the value it is scanning is not yet
	// complete, so all of buf belongs to that value.
	if len(t.buf) > maxRowBytes {
		return 0, errRowTooLarge
	}
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

// valueStart is the index in buf of the value after base: past white
// space and, with afterComma, the ',' before an array element.
func (t *trackReader) valueStart(afterComma bool) int {
	skip := len(t.buf) - len(bytes.TrimLeft(t.buf, " \t\r\n"))
	if afterComma && skip < len(t.buf) && t.buf[skip] == ',' {
		skip++
		skip += len(t.buf[skip:]) - len(bytes.TrimLeft(t.buf[skip:], " \t\r\n"))
	}
	return skip
}

// mark forgets the bytes before input offset off.
func (t *trackReader) mark(off int64) {
	n := int(off - t.base)
	if n <= 0 || n > len(t.buf) {
		return
	}
	t.line, t.col = t.lineCol(off)
	t.buf = append(t.buf[:0], t.buf[n:]...)
	t.base = off
}

// lineCol turns an input offset at or after base into a 1-based line and
// column.
func (t *trackReader) lineCol(off int64) (int, int) {
	n := min(max(int(off-t.base), 0), len(t.buf))
	before := t.buf[:n]
	nl := bytes.Count(before, []byte{'\n'})
	if nl == 0 {
		return t.line, t.col + n
	}
	return t.line + nl, n - bytes.LastIndexByte(before, '\n')
}

// locate finds where the value read since the last mark goes wrong, by
// decoding it again on its own: the error json.Decoder returned carries an
// offset that is not the position in the input. afterComma tells that the
// value is preceded by a ',' (an element after the first). It returns the
// input offset of the problem and encoding/json's words for it, or
// "truncated" when the input ends inside the value.
func (t *trackReader) locate(afterComma bool) (int64, string) {
	data := t.buf
	skip := t.valueStart(afterComma)
	dec := json.NewDecoder(bytes.NewReader(data[skip:]))
	var raw json.RawMessage
	err := dec.Decode(&raw)
	var se *json.SyntaxError
	switch {
	case err == nil && len(bytes.TrimSpace(data[skip+int(dec.InputOffset()):])) == 0:
		return t.base + int64(len(bytes.TrimRight(data, " \t\r\n"))), "truncated"
	case err == nil:
		// The value is whole; what is wrong comes after it.
		return t.base + int64(skip) + dec.InputOffset(), ""
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return t.base + int64(len(bytes.TrimRight(data, " \t\r\n"))), "truncated"
	case errors.As(err, &se):
		return t.base + int64(skip) + se.Offset - 1, se.Error()
	}
	return t.base, err.Error()
}

// lineReader reads lines of any length up to maxRowBytes without
// bufio.Scanner's 64 KiB limit, numbering them from 1.
type lineReader struct {
	br  *bufio.Reader
	n   int    // number of the line last returned
	buf []byte // the current line; reused by the next call
}

// next returns the next line without its line ending. tooLong reports a
// line over maxRowBytes, whose content is then dropped. The returned
// slice is valid until the next call.
func (lr *lineReader) next() (line []byte, tooLong bool, err error) {
	lr.buf = lr.buf[:0]
	read := false
	for {
		frag, err := lr.br.ReadSlice('\n')
		if len(frag) > 0 {
			read = true
		}
		if !tooLong {
			if len(lr.buf)+len(frag) > maxRowBytes+2 { // +2: the line ending
				tooLong = true
				lr.buf = lr.buf[:0]
			} else {
				lr.buf = append(lr.buf, frag...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && !read:
			return nil, false, io.EOF
		case err != nil && err != io.EOF:
			return nil, false, err
		}
		lr.n++
		line = bytes.TrimSuffix(lr.buf, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		return line, tooLong, nil
	}
}

// nextNonBlank skips blank lines.
func (lr *lineReader) nextNonBlank() ([]byte, bool, error) {
	for {
		line, tooLong, err := lr.next()
		if err != nil || tooLong || len(bytes.TrimSpace(line)) > 0 {
			return line, tooLong, err
		}
	}
}
