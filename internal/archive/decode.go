package archive

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
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
	Err       error
}

// Limits on input. They are variables so tests can lower them.
var (
	// maxLineBytes bounds one JSON Lines row (a memory with a 4096-float
	// vector is about 50 KiB).
	maxLineBytes = 64 << 20
	// maxDocumentBytes bounds a multi-line memory-lancedb-pro export, which
	// is read whole so that a truncated file changes nothing. The plugin's
	// exports hold no vectors and at most a few thousand rows.
	maxDocumentBytes = 256 << 20
)

const (
	// defaultImportance is what the plugin gives a memory with none.
	defaultImportance = 0.7
	// maxTimestamp (2100-01-01T00:00:00Z in ms) catches microseconds and
	// nanoseconds given where milliseconds belong.
	maxTimestamp = 4102444800000
	// secondsBelow: a lancedb-pro timestamp under this is legacy seconds
	// (1e11 ms is 1973; 1e11 s is the year 5138).
	secondsBelow = 1e11
)

var utf8BOM = []byte("\xef\xbb\xbf")

// Decode reads an import file and calls fn for each row, in file order. The
// format is told from the content, not a file name: if the first JSON value
// is an object with a "memories" array and nothing follows it, the file is
// a memory-lancedb-pro export; otherwise it is JSON Lines (blank lines are
// ignored).
//
// A bad row is an Item with Err set (an *ItemError) and the rows after it
// still come. A problem with the file as a whole (empty, not JSON, a
// truncated or damaged memory-lancedb-pro export) is returned as a
// *FileError before any item; a read error is returned as it happens. If
// fn returns an error, Decode stops and returns it.
func Decode(r io.Reader, fn func(Item) error) error {
	_, err := decode(r, fn)
	return err
}

// decode is Decode that also tells the format it found ("" when the file
// was rejected before that was known).
func decode(r io.Reader, fn func(Item) error) (string, error) {
	d := &decoder{
		lr:   lineReader{br: bufio.NewReaderSize(r, 64<<10)},
		fn:   fn,
		seen: map[string]int{},
	}
	return d.run()
}

type decoder struct {
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
			return FormatLanceDBPro, d.document(doc, firstLine)
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
	doc, err := d.readDocument(first)
	if err != nil {
		return "", err
	}
	return FormatLanceDBPro, d.document(doc, firstLine)
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
		return d.emit(pos, memory.Memory{}, false, fmt.Sprintf("the line is longer than %s: it is not a memory (a memory with a 4096-float vector is about 50 KiB); the file is probably damaged: remove the line", size(maxLineBytes)))
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
	}
	return d.fn(it)
}

// readDocument reads the rest of the input as one JSON document starting
// with first. It returns the document's bytes, or a *FileError saying why
// the file is neither that nor JSON Lines.
func (d *decoder) readDocument(first []byte) ([]byte, error) {
	startLine := d.lr.n
	// The decoder reads only as far as it must, so a damaged JSON Lines
	// file is rejected after a few bytes; what it read is kept in buf to
	// turn offsets into line numbers. Invalid UTF-8 inside a row is that
	// row's error later (encoding/json keeps raw bytes as they are).
	var buf bytes.Buffer
	src := io.MultiReader(bytes.NewReader(append(bytes.Clone(first), '\n')), &errTagReader{r: d.lr.br})
	dec := json.NewDecoder(io.TeeReader(io.LimitReader(src, int64(maxDocumentBytes)+1), &buf))
	var doc json.RawMessage
	err := dec.Decode(&doc)
	data := buf.Bytes()
	var rerr *readErr
	switch {
	case errors.As(err, &rerr):
		return nil, readError(rerr.err)
	case len(data) > maxDocumentBytes:
		return nil, &FileError{Reason: fmt.Sprintf("line %d starts a JSON document longer than %s: that is not a memory-lancedb-pro export; give trove JSON Lines for large imports", startLine, size(maxDocumentBytes))}
	}
	if err != nil {
		var se *json.SyntaxError
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			l, _ := lineCol(data, len(bytes.TrimRight(data, " \t\r\n")), startLine)
			return nil, &FileError{Reason: fmt.Sprintf("line %d is not a complete JSON value, and the file ends at line %d still inside it: a memory-lancedb-pro export that is truncated, or JSON Lines whose first row is cut off: export the file again, or repair line %d",
				startLine, l, startLine)}
		case errors.As(err, &se):
			l, c := lineCol(data, int(se.Offset), startLine)
			return nil, &FileError{Reason: fmt.Sprintf("line %d is not a complete JSON value, and read as one multi-line JSON document the file is invalid at line %d, column %d (%v): repair line %d if this is JSON Lines; export it again if it is a memory-lancedb-pro export",
				startLine, l, c, se, startLine)}
		default:
			return nil, &FileError{Reason: fmt.Sprintf("line %d: invalid JSON: %v", startLine, err)}
		}
	}
	endLine, _ := lineCol(data, int(dec.InputOffset()), startLine)
	if _, err := dec.Token(); errors.As(err, &rerr) {
		return nil, readError(rerr.err)
	} else if err != io.EOF {
		return nil, &FileError{Reason: fmt.Sprintf("the JSON object on lines %d to %d is followed by more data: a memory-lancedb-pro export is exactly one object, and JSON Lines has one object per line",
			startLine, endLine)}
	}
	if !hasMemoriesArray(doc) {
		return nil, &FileError{Reason: fmt.Sprintf("the file is one JSON object (lines %d to %d) without a memories array: it is neither a memory-lancedb-pro export nor JSON Lines (one memory object per line)",
			startLine, endLine)}
	}
	return doc, nil
}

// document emits the rows of a memory-lancedb-pro export. It has been
// read whole and checked, so nothing is emitted from a damaged file.
func (d *decoder) document(doc []byte, startLine int) error {
	d.lancedb = true
	var top struct {
		Memories []json.RawMessage `json:"memories"`
	}
	if err := json.Unmarshal(doc, &top); err != nil {
		return &FileError{Reason: fmt.Sprintf("the memory-lancedb-pro export starting at line %d cannot be read: %v", startLine, err)}
	}
	for i, raw := range top.Memories {
		pos := "memories[" + strconv.Itoa(i) + "]"
		m, hasVec, problem := d.row(raw, i)
		if err := d.emit(pos, m, hasVec, problem); err != nil {
			return err
		}
		top.Memories[i] = nil // let the row's bytes go
	}
	return nil
}

// hasMemoriesArray reports whether doc is an object whose "memories" key
// holds an array.
func hasMemoriesArray(doc []byte) bool {
	var top struct {
		Memories json.RawMessage `json:"memories"`
	}
	if json.Unmarshal(doc, &top) != nil {
		return false
	}
	m := bytes.TrimSpace(top.Memories)
	return len(m) > 0 && m[0] == '['
}

// rawRow holds a row's fields undecoded, so a wrong JSON type can be
// reported per field. Unknown fields are ignored.
type rawRow struct {
	ID, Text, Category, Scope, Importance  json.RawMessage
	CreatedAt, UpdatedAt, Revision, Format json.RawMessage
	Metadata, Vector                       json.RawMessage
	Timestamp                              json.RawMessage // memory-lancedb-pro
}

// split fills r from obj, a JSON object already checked to be valid, by
// scanning its top-level members (twice as fast as encoding/json here,
// which would validate the row again and decode through reflection). Keys
// match exactly; a repeated key's last value wins, as in encoding/json.
func (r *rawRow) split(obj []byte) {
	i := skipSpace(obj, 1)
	for i < len(obj) && obj[i] == '"' {
		kEnd := stringEnd(obj, i)
		key := obj[i+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			if k, err := unquote("key", obj[i:kEnd]); err == nil {
				key = []byte(k)
			}
		}
		i = skipSpace(obj, kEnd) + 1 // past ':'
		i = skipSpace(obj, i)
		vEnd := valueEnd(obj, i)
		val := json.RawMessage(obj[i:vEnd])
		switch string(key) {
		case "id":
			r.ID = val
		case "text":
			r.Text = val
		case "category":
			r.Category = val
		case "scope":
			r.Scope = val
		case "importance":
			r.Importance = val
		case "created_at":
			r.CreatedAt = val
		case "updated_at":
			r.UpdatedAt = val
		case "revision":
			r.Revision = val
		case "format":
			r.Format = val
		case "metadata":
			r.Metadata = val
		case "vector":
			r.Vector = val
		case "timestamp":
			r.Timestamp = val
		}
		i = skipSpace(obj, vEnd)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
}

// stringEnd returns the index just past the string literal starting at b[i].
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just past the JSON value starting at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		return j
	}
}

// row decodes and validates one row. at is its line number or index, for
// duplicate reports. problem is "" when the row is good.
func (d *decoder) row(raw []byte, at int) (m memory.Memory, hasVec bool, problem string) {
	if !utf8.Valid(raw) {
		return m, false, fmt.Sprintf("invalid UTF-8 at byte %d of the row: re-encode the file as UTF-8", invalidUTF8At(raw)+1)
	}
	if raw[0] != '{' {
		if !json.Valid(raw) {
			return m, false, "truncated or invalid JSON: " + jsonProblem(raw) + ": repair or remove the row"
		}
		return m, false, fmt.Sprintf("a row must be a JSON object, got %s: give one memory object per row", kind(raw))
	}
	if !json.Valid(raw) {
		return m, false, "truncated or invalid JSON: " + jsonProblem(raw) + ": repair or remove the row"
	}
	var r rawRow
	r.split(raw)

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

	m.Category = memory.CategoryOther
	if s, err := stringField("category", r.Category); err != nil {
		return m, false, err.Error()
	} else if s != "" {
		c, err := memory.ParseCategory(s)
		if err != nil {
			return m, false, reason(err)
		}
		m.Category = c
	}

	m.Scope = memory.GlobalScope
	if s, err := stringField("scope", r.Scope); err != nil {
		return m, false, err.Error()
	} else if s != "" {
		sc, err := memory.ParseScope(s)
		if err != nil {
			return m, false, reason(err)
		}
		m.Scope = sc
	}

	m.Importance = defaultImportance
	if f, lit, ok, err := numberField("importance", r.Importance); err != nil {
		return m, false, err.Error() + ": use a number from 0 to 1"
	} else if ok {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1 {
			return m, false, fmt.Sprintf("importance %s is out of range: use a number from 0 to 1", lit)
		}
		m.Importance = f
	}

	if problem := d.times(&m, &r); problem != "" {
		return m, false, problem
	}

	md, problem := metadataField(r.Metadata)
	if problem != "" {
		return m, false, problem
	}
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

	// Everything memory.Validate checks has been checked above, except the
	// encoded size of metadata, which the store measures as json.Marshal
	// writes it. That is at most 6 bytes per input byte (\u003c for <), so
	// only metadata that could be over the limit is encoded to measure it.
	if len(r.Metadata)*6 > memory.MaxMetadataBytes {
		if b, err := json.Marshal(md); err != nil || len(b) > memory.MaxMetadataBytes {
			return m, false, fmt.Sprintf("metadata is %d bytes, over the %d-byte limit: remove large values from it", len(b), memory.MaxMetadataBytes)
		}
	}
	return m, len(vec) > 0, ""
}

// times sets created_at, updated_at and revision.
func (d *decoder) times(m *memory.Memory, r *rawRow) string {
	if d.lancedb {
		ts, problem := timestampField("timestamp", r.Timestamp, true)
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
		if created, problem = timestampField("timestamp", r.Timestamp, true); problem != "" {
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
	if seconds && f < secondsBelow {
		f *= 1000
	}
	if !seconds && f != math.Trunc(f) {
		return 0, fmt.Sprintf("%s %s is not a whole number: use unix milliseconds", name, lit)
	}
	if f > maxTimestamp {
		return 0, fmt.Sprintf("%s %s is after the year 2100: use unix milliseconds, not microseconds or nanoseconds", name, lit)
	}
	return int64(math.Round(f)), ""
}

// metadataField decodes metadata: an object, or a string holding one (the
// plugin stores it as a string). Absent, null and "" give an empty object.
// Numbers become float64, as they are in JavaScript and as the store reads
// them back.
func metadataField(raw json.RawMessage) (map[string]any, string) {
	md := map[string]any{}
	if isAbsent(raw) {
		return md, ""
	}
	obj := []byte(raw)
	switch raw[0] {
	case '{':
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, "metadata is not a valid JSON string: " + err.Error()
		}
		obj = bytes.TrimSpace([]byte(s))
		if len(obj) == 0 {
			return md, ""
		}
		if obj[0] != '{' || !json.Valid(obj) {
			return nil, fmt.Sprintf("metadata is a string that is not a JSON object (%s): give an object, or a string holding one", shorten(s))
		}
	default:
		return nil, fmt.Sprintf("metadata must be a JSON object (or a string holding one), got %s", describe(raw))
	}
	if len(obj) > 4*memory.MaxMetadataBytes {
		return nil, fmt.Sprintf("metadata is %d bytes, over the %d-byte limit: remove large values from it", len(obj), memory.MaxMetadataBytes)
	}
	if err := json.Unmarshal(obj, &md); err != nil {
		return nil, fmt.Sprintf("metadata cannot be read: %v: numbers in metadata must fit in a 64-bit float", err)
	}
	if md == nil { // "null" inside a string
		md = map[string]any{}
	}
	return md, ""
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
	// raw is valid JSON (the row parsed), so a plain scan suffices and
	// avoids decoding thousands of floats through reflection.
	var v []float32
	i := 1
	for idx := 0; ; idx++ {
		i = skipSpace(raw, i)
		if i < len(raw) && raw[i] == ']' && idx == 0 {
			return nil, ""
		}
		if i >= len(raw) {
			return nil, "vector is not a complete JSON array"
		}
		c := raw[i]
		if c != '-' && (c < '0' || c > '9') {
			return nil, fmt.Sprintf("vector entry %d must be a number, got %s: fix it, or remove the vector field to re-embed", idx, describe(raw[i:]))
		}
		j := i
		for j < len(raw) && isNumberByte(raw[j]) {
			j++
		}
		f, err := strconv.ParseFloat(string(raw[i:j]), 32)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) && !math.IsInf(f, 0) {
				err = nil // underflow to zero or a subnormal: fine
			} else {
				return nil, fmt.Sprintf("vector entry %d (%s) is out of range for a 32-bit float: fix it, or remove the vector field to re-embed", idx, shorten(string(raw[i:j])))
			}
		}
		if v == nil {
			v = make([]float32, 0, estimateLen(raw))
		}
		v = append(v, float32(f))
		i = skipSpace(raw, j)
		if i >= len(raw) {
			return nil, "vector is not a complete JSON array"
		}
		switch raw[i] {
		case ',':
			i++
		case ']':
			return v, ""
		default:
			return nil, fmt.Sprintf("vector entry %d is followed by %q", idx, raw[i])
		}
	}
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// estimateLen guesses a vector's length from its commas, to allocate once.
func estimateLen(raw []byte) int {
	return bytes.Count(raw, []byte{','}) + 1
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

// lineCol turns a byte offset into a 1-based line and column, counting
// lines from startLine.
func lineCol(data []byte, off, startLine int) (int, int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	l := startLine + bytes.Count(before, []byte{'\n'})
	c := off - bytes.LastIndexByte(before, '\n')
	return l, c
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

// lineReader reads lines of any length up to maxLineBytes without
// bufio.Scanner's 64 KiB limit, numbering them from 1.
type lineReader struct {
	br  *bufio.Reader
	n   int    // number of the line last returned
	buf []byte // the current line; reused by the next call
}

// next returns the next line without its line ending. tooLong reports a
// line over maxLineBytes, whose content is then dropped. The returned
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
			if len(lr.buf)+len(frag) > maxLineBytes+2 { // +2: the line ending
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
