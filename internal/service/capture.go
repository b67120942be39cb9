package service

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/extract"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/redact"
	"github.com/trove-memory/trove/internal/retrieve"
	"github.com/trove-memory/trove/internal/store"
)

// Message is one turn of a conversation ({role, content}).
type Message = capture.Message

// CaptureInput is part of a conversation to capture memories from.
type CaptureInput struct {
	// Session names the conversation (the host's id for it). Messages of
	// one session are buffered until there are enough to extract from;
	// without a session the messages are extracted at once.
	Session  string    `json:"session,omitempty" jsonschema:"the conversation's id: its messages are buffered and extracted together; leave out to extract these messages at once"`
	Messages []Message `json:"messages" jsonschema:"the new messages of the conversation, oldest first"`
	Scope    string    `json:"scope,omitempty" jsonschema:"where new memories go (default: your default write scope)"`
	// Flush extracts now whatever the session has buffered (its end).
	Flush bool `json:"flush,omitempty" jsonschema:"the session ended: extract what is buffered now"`
	// Async returns at once with a capture id; the server extracts later.
	Async bool `json:"async,omitempty" jsonschema:"return at once with a capture id; the server extracts in the background"`
}

// CaptureAction is what became of one candidate memory.
type CaptureAction struct {
	Decision extract.Kind `json:"decision" jsonschema:"create, merge, skip, supersede, support, contextualize or contradict"`
	Text     string       `json:"text"`
	ID       string       `json:"id,omitempty" jsonschema:"the memory created or changed"`
	Target   string       `json:"target,omitempty" jsonschema:"the stored memory the decision was about"`
	Reason   string       `json:"reason,omitempty"`
}

// The states of a capture.
const (
	CaptureDone     = "done"     // extracted and committed
	CaptureBuffered = "buffered" // kept for later: not enough messages yet
	CapturePending  = "pending"  // async: the server will extract
	CaptureRunning  = "running"
	CaptureFailed   = "failed"
)

// CaptureOutput says what a capture did.
type CaptureOutput struct {
	CaptureID string `json:"capture_id,omitempty"`
	State     string `json:"state" jsonschema:"done, buffered (waiting for more messages), pending (async), running or failed"`
	Session   string `json:"session,omitempty"`
	// Buffered is how many of the session's messages wait for extraction.
	Buffered  int             `json:"buffered"`
	Extractor string          `json:"extractor,omitempty" jsonschema:"llm or rules"`
	Stored    []Memory        `json:"stored" jsonschema:"memories created"`
	Updated   []Memory        `json:"updated,omitempty" jsonschema:"memories merged into, supported or superseded"`
	Actions   []CaptureAction `json:"actions,omitempty"`
	Skipped   []capture.Skip  `json:"skipped"`
	Warnings  []string        `json:"warnings,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// Capture buffers the messages of a session and, when the buffer holds
// enough (capture.minMessages new user messages, an explicit "remember
// this", flush, or no session), extracts memories from it and commits
// the decisions, marking the buffer consumed in the same transaction.
// Secrets are redacted before anything is buffered.
func (s *Service) Capture(ctx context.Context, c Caller, in CaptureInput) (CaptureOutput, error) {
	acc, err := s.access(c)
	if err != nil {
		return CaptureOutput{}, err
	}
	if err := checkCapture(in); err != nil {
		return CaptureOutput{}, err
	}
	scope, err := s.writeScope(c, acc, in.Scope)
	if err != nil {
		return CaptureOutput{}, err
	}
	name, flush := in.Session, in.Flush
	if name == "" {
		name, flush = "turn:"+uuid.NewString(), true
	}
	session := bufferKey(c.Agent, name)
	buf, ok := s.opts.Store.(store.Buffer)
	if !ok {
		return CaptureOutput{}, Unavailable("%s", errNoBuffer.Error())
	}
	explicit := false
	if len(in.Messages) > 0 {
		msgs := make([]store.BufferedMessage, len(in.Messages))
		for i, m := range in.Messages {
			text := redact.Redact(m.Content)
			msgs[i] = store.BufferedMessage{Session: session, Scope: scope, Agent: c.Agent, Role: strings.ToLower(strings.TrimSpace(m.Role)), Content: text}
			explicit = explicit || (msgs[i].Role == "user" && capture.IsRemember(extract.Clean(text)))
		}
		err := store.WriteAgain(ctx, s.opts.Store, acc, func(tx store.Tx) error {
			btx, ok := tx.(store.BufferTx)
			if !ok {
				return errNoBuffer
			}
			_, err := btx.AppendMessages(msgs)
			return err
		})
		if err != nil {
			return CaptureOutput{}, ErrorOf(err)
		}
	}
	pending, err := buf.PendingMessages(ctx, acc, session)
	if err != nil {
		return CaptureOutput{}, ErrorOf(err)
	}
	out := CaptureOutput{State: CaptureBuffered, Session: in.Session, Buffered: len(pending), Stored: []Memory{}, Skipped: []capture.Skip{}}
	if len(pending) == 0 || !(flush || explicit || extract.UserMessages(toMessages(pending)) >= s.captureOpts().MinMessages) {
		return out, nil
	}
	if in.Async {
		job := store.CaptureJob{ID: uuid.NewString(), Session: session, Scope: scope, Agent: c.Agent, State: store.JobPending, Flush: flush}
		if err := s.putJob(ctx, acc, job); err != nil {
			return CaptureOutput{}, err
		}
		s.wakeCapture()
		out.CaptureID, out.State = job.ID, CapturePending
		return out, nil
	}
	res, err := s.extractSession(ctx, c, acc, scope, session, pending, uuid.NewString())
	res.Session = in.Session
	return res, err
}

// bufferKey is the buffer's session key: the host's session id within
// its agent, so that two agents using the same session id (or one
// flushing) never read or consume each other's messages.
func bufferKey(agent, session string) string { return agent + "\x1f" + session }

// sessionName is the host's session id of a buffer key.
func sessionName(key string) string {
	_, name, _ := strings.Cut(key, "\x1f")
	return name
}

// checkCapture validates a capture request's shape.
func checkCapture(in CaptureInput) error {
	switch {
	case len(in.Messages) == 0 && !in.Flush:
		return Invalid("messages is empty: send the turn's messages as [{\"role\":\"user\",\"content\":\"...\"}], or flush: true to extract what a session has buffered")
	case len(in.Messages) == 0 && in.Session == "":
		return Invalid("flush without a session: name the session whose buffer to extract")
	case len(in.Messages) > MaxCaptureMessages:
		return Invalid("%d messages is over the limit of %d: send one turn at a time", len(in.Messages), MaxCaptureMessages)
	case len(in.Session) > MaxIDBytes:
		return Invalid("session is %d bytes, over the %d-byte limit", len(in.Session), MaxIDBytes)
	case !utf8.ValidString(in.Session) || strings.ContainsFunc(in.Session, unicode.IsControl):
		return Invalid("session is not valid UTF-8 text without control characters: use the host's session id")
	}
	for i, m := range in.Messages {
		if len(m.Content) > MaxMessageBytes {
			return Invalid("messages[%d].content is %d bytes, over the %d-byte limit", i, len(m.Content), MaxMessageBytes)
		}
		if !utf8.ValidString(m.Content) || !utf8.ValidString(m.Role) {
			return Invalid("messages[%d] is not valid UTF-8: re-encode it as UTF-8", i)
		}
		switch strings.ToLower(strings.TrimSpace(m.Role)) {
		case "user", "assistant", "system", "tool":
		default:
			return Invalid("messages[%d].role %q is not one of user, assistant, system, tool", i, m.Role)
		}
	}
	return nil
}

func toMessages(ms []store.BufferedMessage) []Message {
	out := make([]Message, len(ms))
	for i, m := range ms {
		out[i] = Message{Role: m.Role, Content: m.Content}
	}
	return out
}

// extractSession runs the pipeline over a session's pending messages and
// commits its decisions together with the messages' consumption. When
// another capture consumed some of them first, nothing is committed, and
// those it left (appended after it read the buffer) are extracted again
// on their own: else a flush would leave them buffered, uncaptured, until
// some later capture of the session.
func (s *Service) extractSession(ctx context.Context, c Caller, acc memory.Access, scope memory.Scope, session string, pending []store.BufferedMessage, captureID string) (CaptureOutput, error) {
	through := pending[len(pending)-1].ID
	for attempt := 1; ; attempt++ {
		out, err := s.extractPending(ctx, c, acc, scope, session, pending, captureID)
		if err == nil && attempt > 1 {
			out.Warnings = append(out.Warnings, "another request captured some of these messages meanwhile: the rest were extracted on their own")
		}
		if !errors.Is(err, errTaken) {
			return out, err
		}
		out.Warnings = append(out.Warnings, "these messages were captured by another request meanwhile: nothing more was stored")
		buf, _ := s.opts.Store.(store.Buffer)
		if attempt >= maxTakenRetries || buf == nil {
			return out, nil
		}
		rest, err := buf.PendingMessages(ctx, acc, session)
		if err != nil {
			return CaptureOutput{}, ErrorOf(err)
		}
		// Only the messages this capture was asked to cover: later ones
		// belong to the captures that appended them.
		pending = nil
		for _, m := range rest {
			if m.ID <= through {
				pending = append(pending, m)
			}
		}
		if len(pending) == 0 {
			return out, nil
		}
	}
}

// maxTakenRetries bounds how often a capture extracts again what another
// capture left of its messages. Each retry follows another capture's
// commit, so the bound is only reached under a stream of racing captures.
const maxTakenRetries = 4

// errTaken rolls a capture's commit back when another capture consumed
// some of its messages first.
var errTaken = errors.New("taken")

// extractPending is one try of extractSession: errTaken when another
// capture consumed some of pending first.
func (s *Service) extractPending(ctx context.Context, c Caller, acc memory.Access, scope memory.Scope, session string, pending []store.BufferedMessage, captureID string) (CaptureOutput, error) {
	out := CaptureOutput{CaptureID: captureID, State: CaptureDone, Session: sessionName(session), Stored: []Memory{}, Skipped: []capture.Skip{}}
	through := pending[len(pending)-1].ID
	p := s.pipeline()
	res, err := p.Run(ctx, extract.Input{
		Access: acc, Writable: func(sc memory.Scope) bool { return acc.Allows(sc) && s.checkDeclared(sc) == nil },
		Scope: scope, Session: sessionName(session), By: acc.Who(), Messages: toMessages(pending),
		Commit: func(tx store.Tx) error {
			btx, ok := tx.(store.BufferTx)
			if !ok {
				return errNoBuffer
			}
			n, err := btx.ConsumeMessages(session, through, captureID)
			if err != nil {
				return err
			}
			if n < len(pending) {
				return errTaken
			}
			return nil
		},
	})
	var xe *extract.ExtractError
	switch {
	case errors.Is(err, errTaken):
		return out, errTaken
	case errors.As(err, &xe):
		if ctx.Err() != nil {
			return CaptureOutput{}, ErrorOf(ctx.Err())
		}
		return CaptureOutput{}, &Error{Code: CodeUnavailable, Err: err, Message: err.Error() + ": the messages stay buffered and are extracted on the next capture of this session (or when it is idle)", Hint: "check llm.baseURL / TROVE_LLM_BASE_URL and the model, or retry later"}
	case errors.Is(err, extract.ErrContended):
		return CaptureOutput{}, &Error{Code: CodeConflict, Err: err, Message: err.Error(), Hint: "the messages stay buffered; capture again"}
	case err != nil:
		return CaptureOutput{}, ErrorOf(err)
	}
	out.Extractor, out.Warnings = res.Extractor, append(out.Warnings, res.Warnings...)
	for _, r := range res.Rejected {
		out.Skipped = append(out.Skipped, capture.Skip{Text: r.Text, Reason: r.Reason})
	}
	for _, a := range res.Actions {
		ca := CaptureAction{Decision: a.Decision, Text: a.Text, Target: a.Target, Reason: a.Reason}
		if a.Memory != nil {
			ca.ID = a.Memory.ID
		}
		out.Actions = append(out.Actions, ca)
		switch a.Decision {
		case extract.Skip:
			out.Skipped = append(out.Skipped, capture.Skip{Text: a.Text, Reason: skipReason(a), DuplicateOf: a.Target})
		case extract.Create, extract.Supersede, extract.Contextualize, extract.Contradict:
			out.Stored = append(out.Stored, View(*a.Memory))
		case extract.Merge, extract.Support:
			out.Updated = append(out.Updated, View(*a.Memory))
		}
	}
	return out, nil
}

func skipReason(a extract.Action) string {
	if a.Reason != "" {
		return a.Reason
	}
	return "already stored"
}

// pipeline is the extraction pipeline over this service's providers.
func (s *Service) pipeline() *extract.Pipeline {
	co := s.captureOpts()
	p := &extract.Pipeline{
		Rules: s.opts.Extractor, Store: s.opts.Store, Clock: s.opts.Clock,
		Embed: s.embed,
		Near: func(ctx context.Context, acc memory.Access, text string, vec []float32, k int) ([]extract.Neighbour, error) {
			return s.near(ctx, acc, nil, text, vec, k)
		},
		IncludeAssistant: co.IncludeAssistant, MaxChars: co.MaxChars, Floor: co.Similarity, User: co.User,
	}
	if s.opts.LLM != nil && !co.RulesOnly {
		if c, err := s.opts.LLM(); err == nil {
			p.LLM = c
		}
	}
	return p
}

// near finds the active rows nearest to text (vec is its vector, reused
// for the search) within acc, in scopes (nil: every scope acc reaches):
// through the searcher when there is one, else among the newest rows.
func (s *Service) near(ctx context.Context, acc memory.Access, scopes []memory.Scope, text string, vec []float32, k int) ([]extract.Neighbour, error) {
	if s.opts.Searcher != nil {
		resp, err := s.opts.Searcher.Search(ctx, acc, retrieve.Request{Query: text, Scopes: scopes, Vector: vec, Limit: k, MinScore: new(float64)})
		if err == nil {
			out := make([]extract.Neighbour, 0, len(resp.Results))
			for _, r := range resp.Results {
				n := extract.Neighbour{Memory: r.Memory}
				switch {
				case len(r.Memory.Vector) > 0 && len(vec) > 0:
					n.Similarity, n.Known = capture.Cosine(vec, r.Memory.Vector), true
				case r.Sources.Vector != nil:
					n.Similarity, n.Known = *r.Sources.Vector, true
				}
				out = append(out, n)
			}
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, ErrorOf(ctx.Err())
		}
	}
	page, err := s.opts.Store.List(ctx, acc, store.ListOptions{Filter: store.Filter{Scopes: scopes, ActiveAt: s.opts.Clock().UnixMilli()}, Limit: fallbackScan, WithVectors: true})
	if err != nil {
		return nil, ErrorOf(err)
	}
	out := make([]extract.Neighbour, 0, len(page.Memories))
	for _, m := range page.Memories {
		out = append(out, extract.Neighbour{Memory: m, Similarity: capture.Cosine(vec, m.Vector), Known: len(m.Vector) > 0 && len(vec) > 0})
	}
	sortNeighbours(out)
	if len(out) > k {
		out = out[:k]
	}
	return out, nil
}

// fallbackScan bounds the newest rows compared with a candidate when no
// searcher is configured.
const fallbackScan = 500

func (s *Service) putJob(ctx context.Context, acc memory.Access, j store.CaptureJob) error {
	err := store.WriteAgain(ctx, s.opts.Store, acc, func(tx store.Tx) error {
		btx, ok := tx.(store.BufferTx)
		if !ok {
			return errNoBuffer
		}
		return btx.PutCaptureJob(j)
	})
	if err != nil {
		return ErrorOf(err)
	}
	return nil
}

// CaptureStatus reports an asynchronous capture.
func (s *Service) CaptureStatus(ctx context.Context, c Caller, id string) (CaptureOutput, error) {
	acc, err := s.access(c)
	if err != nil {
		return CaptureOutput{}, err
	}
	if id == "" || len(id) > MaxIDBytes {
		return CaptureOutput{}, Invalid("capture id: give the capture_id a capture with async: true returned")
	}
	buf, ok := s.opts.Store.(store.Buffer)
	if !ok {
		return CaptureOutput{}, Unavailable("%s", errNoBuffer.Error())
	}
	j, err := buf.CaptureJob(ctx, acc, id)
	if err != nil {
		return CaptureOutput{}, ErrorOf(err)
	}
	return jobOutput(j), nil
}

// jobOutput is a job as callers see it: its result when done.
func jobOutput(j store.CaptureJob) CaptureOutput {
	out := CaptureOutput{CaptureID: j.ID, State: j.State, Session: sessionName(j.Session), Stored: []Memory{}, Skipped: []capture.Skip{}, Error: j.Error}
	if j.State == store.JobDone && len(j.Result) > 0 {
		var done CaptureOutput
		if err := json.Unmarshal(j.Result, &done); err == nil {
			done.CaptureID, done.State = j.ID, j.State
			return done
		}
	}
	return out
}

// CaptureOptions are capture's settings (config capture.*).
type CaptureOptions struct {
	MinMessages      int           // new user messages that trigger extraction (default 4)
	IdleFlush        time.Duration // a session idle this long is extracted (default 30 min)
	IncludeAssistant bool          // assistant turns are extraction sources too
	MaxChars         int           // transcript bound (default 8000)
	Similarity       float64       // neighbour floor (default 0.7)
	RulesOnly        bool          // never use the LLM for capture
	User             string        // the user's name in the extraction prompt
	// WorkerEvery is how often a server's capture worker looks for idle
	// sessions and pending jobs (default 1 min).
	WorkerEvery time.Duration
}

func (s *Service) captureOpts() CaptureOptions {
	co := s.opts.Capture
	if co.MinMessages <= 0 {
		co.MinMessages = 4
	}
	if co.IdleFlush <= 0 {
		co.IdleFlush = 30 * time.Minute
	}
	if co.MaxChars <= 0 {
		co.MaxChars = 8000
	}
	if co.WorkerEvery <= 0 {
		co.WorkerEvery = time.Minute
	}
	return co
}

// errNoBuffer explains a store without a capture buffer.
var errNoBuffer = errors.New("this store keeps no capture buffer")

// sortNeighbours orders ns most similar first.
func sortNeighbours(ns []extract.Neighbour) {
	sort.SliceStable(ns, func(i, j int) bool { return ns[i].Similarity > ns[j].Similarity })
}
