package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
)

func (a *api) storeMemory(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	var in service.StoreInput
	if err := decode(w, r, &in); err != nil {
		return 0, nil, err
	}
	m, err := a.svc.Store(r.Context(), c, in)
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", "/v1/memories/"+url.PathEscape(m.ID))
	if m.Outcome == service.StoreDuplicate {
		return http.StatusOK, m, nil // nothing was created
	}
	return http.StatusCreated, m, nil
}

func (a *api) getMemory(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	if err := onlyParams(r.URL.Query()); err != nil {
		return 0, nil, err
	}
	m, err := a.svc.Get(r.Context(), c, r.PathValue("id"))
	return http.StatusOK, m, err
}

func (a *api) updateMemory(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	var in service.UpdateFields
	if err := decode(w, r, &in); err != nil {
		return 0, nil, err
	}
	m, err := a.svc.Update(r.Context(), c, service.UpdateInput{ID: r.PathValue("id"), UpdateFields: in})
	return http.StatusOK, m, err
}

func (a *api) deleteMemory(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	q := r.URL.Query()
	if err := onlyParams(q, "expected_revision", "purge"); err != nil {
		return 0, nil, err
	}
	purge := false
	switch s := q.Get("purge"); s {
	case "", "false":
	case "true":
		purge = true
	default:
		return 0, nil, service.Invalid("purge %q is not true or false", s)
	}
	var rev int64
	if s := q.Get("expected_revision"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, nil, service.Invalid("expected_revision %q is not a whole number", s)
		}
		rev = n
	}
	out, err := a.svc.Forget(r.Context(), c, service.ForgetInput{ID: r.PathValue("id"), ExpectedRevision: rev, Purge: purge})
	return http.StatusOK, out, err
}

func (a *api) memoryHistory(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	q := r.URL.Query()
	if err := onlyParams(q, "limit"); err != nil {
		return 0, nil, err
	}
	in := service.HistoryInput{ID: r.PathValue("id")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n == 0 {
			return 0, nil, service.Invalid("limit %q is out of range: use 1 to %d", s, service.MaxHistoryLimit)
		}
		in.Limit = n
	}
	out, err := a.svc.History(r.Context(), c, in)
	return http.StatusOK, out, err
}

// revertBody is the body of POST /v1/memories/{id}/revert.
type revertBody struct {
	To               int64 `json:"to"`
	ExpectedRevision int64 `json:"expected_revision,omitempty"`
}

func (a *api) revertMemory(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	var in revertBody
	if err := decode(w, r, &in); err != nil {
		return 0, nil, err
	}
	m, err := a.svc.Revert(r.Context(), c, service.RevertInput{ID: r.PathValue("id"), To: in.To, ExpectedRevision: in.ExpectedRevision})
	return http.StatusOK, m, err
}

func (a *api) restoreMemory(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	if err := onlyParams(r.URL.Query()); err != nil {
		return 0, nil, err
	}
	m, err := a.svc.Restore(r.Context(), c, service.RestoreInput{ID: r.PathValue("id")})
	return http.StatusOK, m, err
}

func (a *api) listMemories(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	q := r.URL.Query()
	if err := onlyParams(q, "scope", "category", "memory_category", "limit", "offset", "cursor", "as_of", "include_history"); err != nil {
		return 0, nil, err
	}
	// category is the storage vocabulary, memory_category the six-category one.
	in := service.ListInput{Scopes: multi(q["scope"]), Categories: multi(q["category"]), MemoryCategories: multi(q["memory_category"]), Cursor: q.Get("cursor"),
		Validity: service.Validity{AsOf: q.Get("as_of")}}
	switch h := q.Get("include_history"); h {
	case "", "false":
	case "true":
		in.IncludeHistory = true
	default:
		return 0, nil, service.Invalid("include_history %q is not true or false", h)
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, nil, service.Invalid("limit %q is not a whole number: use 1 to %d", s, service.MaxListLimit)
		}
		in.Limit = n
		if n == 0 {
			return 0, nil, service.Invalid("limit 0 is out of range: use 1 to %d", service.MaxListLimit)
		}
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, nil, service.Invalid("offset %q is not a whole number: use 0 to %d", s, service.MaxListOffset)
		}
		in.Offset = n
	}
	out, err := a.svc.List(r.Context(), c, in)
	return http.StatusOK, out, err
}

// searchBody is POST /v1/search.
type searchBody struct {
	Query    string   `json:"query"`
	Scopes   []string `json:"scopes"`
	Category string   `json:"category"` // storage vocabulary: preference, fact, ...
	// MemoryCategory is the six-category vocabulary (profile,
	// preferences, ...), one value like category.
	MemoryCategory string   `json:"memory_category"`
	Limit          int      `json:"limit"`
	MinScore       *float64 `json:"min_score"`
	// Debug keeps every candidate's per-stage scores and the dropped
	// candidates with the reason (as trove search --debug).
	Debug bool `json:"debug"`
	service.Validity
}

func (a *api) search(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	var in searchBody
	if err := decode(w, r, &in); err != nil {
		return 0, nil, err
	}
	var cats []string
	if in.Category != "" {
		cats = []string{in.Category}
	}
	var smart []string
	if in.MemoryCategory != "" {
		smart = []string{in.MemoryCategory}
	}
	out, err := a.svc.Recall(r.Context(), c, service.RecallInput{Query: in.Query, Scopes: in.Scopes, Categories: cats, MemoryCategories: smart, Limit: in.Limit, MinScore: in.MinScore, Debug: in.Debug, Validity: in.Validity})
	return http.StatusOK, out, err
}

func (a *api) facts(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	var in service.FactsInput
	if err := decode(w, r, &in); err != nil {
		return 0, nil, err
	}
	out, err := a.svc.Facts(r.Context(), c, in)
	return http.StatusOK, out, err
}

// maintain runs a maintenance pass now (the owner only; the service
// refuses agents). The body is optional: {"dry_run": true, "batch_size": n,
// "lock_share": f}.
func (a *api) maintain(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	if err := onlyParams(r.URL.Query()); err != nil {
		return 0, nil, err
	}
	var body struct {
		DryRun    bool    `json:"dry_run"`
		BatchSize int     `json:"batch_size"`
		LockShare float64 `json:"lock_share"`
	}
	if r.ContentLength != 0 {
		if err := decode(w, r, &body); err != nil {
			return 0, nil, err
		}
	}
	out, err := a.svc.Maintain(r.Context(), c, service.MaintainInput{DryRun: body.DryRun, BatchSize: body.BatchSize, LockShare: body.LockShare})
	return http.StatusOK, out, err
}

func (a *api) captureStatus(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	if err := onlyParams(r.URL.Query()); err != nil {
		return 0, nil, err
	}
	out, err := a.svc.CaptureStatus(r.Context(), c, r.PathValue("id"))
	return http.StatusOK, out, err
}

func (a *api) stats(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	q := r.URL.Query()
	if err := onlyParams(q, "scope"); err != nil {
		return 0, nil, err
	}
	out, err := a.svc.Stats(r.Context(), c, multi(q["scope"]))
	return http.StatusOK, out, err
}

// recallContextBody is POST /v1/recall-context.
type recallContextBody struct {
	service.ContextInput
	Agent string `json:"agent"`
}

func (a *api) recallContext(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	var in recallContextBody
	if err := decode(w, r, &in); err != nil {
		return 0, nil, err
	}
	c, err := bodyAgent(c, in.Agent)
	if err != nil {
		return 0, nil, err
	}
	out, err := a.svc.RecallContext(r.Context(), c, in.ContextInput)
	return http.StatusOK, out, err
}

// captureBody is POST /v1/capture.
type captureBody struct {
	service.CaptureInput
	Agent string `json:"agent"`
}

func (a *api) capture(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	var in captureBody
	if err := decode(w, r, &in); err != nil {
		return 0, nil, err
	}
	c, err := bodyAgent(c, in.Agent)
	if err != nil {
		return 0, nil, err
	}
	out, err := a.svc.Capture(r.Context(), c, in.CaptureInput)
	if err == nil && out.State == service.CapturePending {
		w.Header().Set("Location", "/v1/capture/"+url.PathEscape(out.CaptureID))
		return http.StatusAccepted, out, nil
	}
	return http.StatusOK, out, err
}

// bodyAgent applies the agent a hook names in its body. An owner request
// may act as any agent (narrowing itself); an agent may not act as
// another.
func bodyAgent(c service.Caller, agent string) (service.Caller, error) {
	agent = strings.TrimSpace(agent)
	switch {
	case agent == "" || agent == c.Agent:
		return c, nil
	case c.Agent == "":
		if err := service.CheckAgent(agent); err != nil {
			return c, err
		}
		return service.Caller{Agent: agent}, nil
	}
	return c, &service.Error{Code: service.CodeScopeDenied,
		Message: fmt.Sprintf("agent %q in the body is not the caller (%q from %s): an agent may act only as itself", agent, c.Agent, service.AgentHeader)}
}

// multi splits repeated and comma-separated query values.
func multi(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func onlyParams(q url.Values, allowed ...string) error {
	for k := range q {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return service.Invalid("unknown query parameter %q: this route takes none", k)
			}
			return service.Invalid("unknown query parameter %q: use %s", k, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// bodyError is a request-body problem with its own HTTP status (413, 415).
type bodyError struct {
	status int
	err    *service.Error
}

func (b *bodyError) Error() string { return b.err.Message }
func (b *bodyError) Unwrap() error { return b.err }

func asBodyError(err error, be **bodyError) bool { return errors.As(err, be) }

// decode reads one JSON object into dst: the body must be JSON, at most
// MaxBodyBytes, with no unknown fields and nothing after the object.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &bodyError{http.StatusUnsupportedMediaType, service.Invalid("Content-Type %q is not JSON: send application/json", ct)}
		}
	} else {
		return &bodyError{http.StatusUnsupportedMediaType, service.Invalid("Content-Type is missing: send application/json")}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var big *http.MaxBytesError
	if errors.As(err, &big) {
		return &bodyError{http.StatusRequestEntityTooLarge, service.Invalid("request body is over %d bytes: send less at a time", MaxBodyBytes)}
	}
	if err != nil {
		return service.Invalid("request body could not be read: %v", err)
	}
	// encoding/json would silently turn invalid UTF-8 into U+FFFD and store
	// a text the caller never sent; refuse it like the CLI and import do.
	if !utf8.Valid(raw) {
		return service.Invalid("request body is not valid UTF-8: re-encode the text as UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	if err == nil && dec.More() {
		err = errors.New("extra data")
	}
	if err == nil {
		if _, rerr := dec.Token(); rerr != io.EOF {
			err = errors.New("extra data")
		}
	}
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return service.Invalid("request body is empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return service.Invalid("request body is cut short: send a whole JSON object")
	case errors.As(err, &syn) && strings.HasSuffix(syn.Error(), "exceeded max depth"):
		return service.Invalid("request body nests objects or arrays deeper than metadata's %d-level limit (at byte %d): flatten it", memory.MaxMetadataDepth, syn.Offset)
	case errors.As(err, &syn):
		return service.Invalid("request body is not valid JSON (at byte %d): %s: send one JSON object, with quoted strings", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return service.Invalid("request body must be a JSON object, not %s", typ.Value)
		}
		return service.Invalid("field %q: want %s, got %s: send the field as a JSON %s", field, kind(typ.Type.String()), typ.Value, kind(typ.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return service.Invalid("unknown field %s: see the API reference for this route's fields", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case err.Error() == "extra data":
		return service.Invalid("extra data after the JSON object: send exactly one object")
	}
	return service.Invalid("request body: %v", err)
}

// kind names a Go type the way a JSON client thinks of it.
func kind(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "a whole number"
	case strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "string") && !strings.HasPrefix(goType, "[]") && !strings.HasPrefix(goType, "map"):
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map") || strings.Contains(goType, "."):
		return "an object"
	case goType == "bool":
		return "true or false"
	}
	return goType
}
