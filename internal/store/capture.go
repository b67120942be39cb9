package store

import (
	"context"
	"encoding/json"

	"github.com/trove-memory/trove/internal/memory"
)

// The capture buffer: conversation messages wait in the store (a table,
// not process memory) until extraction turns them into memories, so a
// crash or restart loses none. The protocol, every step one Write:
//
//  1. a capture request appends its (already redacted) messages:
//     tx.(BufferTx).AppendMessages; an asynchronous one also records a
//     job (PutCaptureJob, JobPending) in the same Write;
//  2. extraction reads the session's pending messages (PendingMessages)
//     and calls its models with no lock held;
//  3. one Write commits the decisions and ConsumeMessages(session, the
//     last id read, captureID) together. If the count it returns is less
//     than the number of messages read, another consumer captured some of
//     them meanwhile: return an error so the decisions roll back, and
//     read again. A Write that fails leaves the messages pending.
//
// Read and consume with the same access, narrowed to the capture's scope
// (PendingSession.Scope): ConsumeMessages marks every pending message of
// the session up to the id that the Write's access reaches, so a wider
// access would also mark messages of another scope that were never read.
// Session ids are store-wide: two agents that pick the same session id and
// write to the same scope share one buffer.

// BufferedMessage is one message waiting in a session's capture buffer.
type BufferedMessage struct {
	ID        int64        `json:"id"`
	Session   string       `json:"session"`
	Scope     memory.Scope `json:"scope"`
	Agent     string       `json:"agent"` // "" for the owner
	Role      string       `json:"role"`
	Content   string       `json:"content"`
	CreatedAt int64        `json:"created_at"`
}

// PendingSession summarises a session with unconsumed messages: one per
// (session, scope, agent), so a session whose messages went to two scopes
// is listed twice.
type PendingSession struct {
	Session      string       `json:"session"`
	Scope        memory.Scope `json:"scope"`
	Agent        string       `json:"agent"`
	Messages     int          `json:"messages"`
	UserMessages int          `json:"user_messages"` // messages with role "user"
	// FirstAt and LastAt are the created_at of the oldest and newest
	// pending message.
	FirstAt int64 `json:"first_at"`
	LastAt  int64 `json:"last_at"`
}

// CaptureJob is an asynchronous capture request and its outcome.
type CaptureJob struct {
	ID       string          `json:"id"`
	Session  string          `json:"session"`
	Scope    memory.Scope    `json:"scope"`
	Agent    string          `json:"agent"`
	State    string          `json:"state"` // JobPending, JobRunning, JobDone, JobFailed
	Flush    bool            `json:"flush"`
	Result   json.RawMessage `json:"result,omitempty"` // the capture's outcome when done
	Error    string          `json:"error,omitempty"`
	Attempts int             `json:"attempts"`
	// CreatedAt is set when the job is first put and kept after;
	// UpdatedAt is the time of the last PutCaptureJob.
	CreatedAt int64 `json:"created_at"`
	UpdatedAt int64 `json:"updated_at"`
}

// The states of a CaptureJob.
const (
	JobPending = "pending"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// RoleUser is the role PendingSession.UserMessages counts.
const RoleUser = "user"

// Buffer is the capture buffer's read side (a Store that has one
// implements it).
type Buffer interface {
	// PendingMessages returns the session's unconsumed messages in order
	// (by id), within acc: messages of scopes acc does not reach are not
	// returned.
	PendingMessages(ctx context.Context, acc memory.Access, session string) ([]BufferedMessage, error)
	// PendingSessions lists sessions with unconsumed messages whose newest
	// message is older than idleBefore (unix ms; 0: any), oldest first (by
	// their oldest pending message), at most limit (0: all). Owner access.
	PendingSessions(ctx context.Context, idleBefore int64, limit int) ([]PendingSession, error)
	// CaptureJob returns the job; *memory.NotFoundError when absent or
	// its scope is outside acc.
	CaptureJob(ctx context.Context, acc memory.Access, id string) (CaptureJob, error)
	// PendingJobs lists jobs in state pending or running, oldest first, at
	// most limit (0: all). Owner access. Call it while holding the job
	// lock (JobLocker.TryJob): then no other runner is alive, so a job
	// still running is one whose runner died, to be resumed (Attempts
	// says how often it was started).
	PendingJobs(ctx context.Context, limit int) ([]CaptureJob, error)
}

// BufferTx is what a Write function can do with the buffer (the sqlite Tx
// implements it; callers type-assert tx.(store.BufferTx)). Every call is
// scope-checked against the Write's access.
type BufferTx interface {
	// AppendMessages appends msgs (Session, Scope, Agent, Role, Content
	// set; an empty Scope is global) and returns them with their ids and
	// created_at (now, unless given). A scope outside the Write's access
	// is *memory.ScopeDeniedError; an empty session or role
	// *memory.InvalidError. Ids only grow.
	AppendMessages(msgs []BufferedMessage) ([]BufferedMessage, error)
	// ConsumeMessages marks the session's pending messages with id <=
	// through, in scopes the Write's access reaches, as consumed by
	// captureID, and returns how many it marked. Messages already consumed
	// are not counted again, so a second consumer of the same messages sees
	// fewer than it read (0 for the same range) and knows to roll back its
	// decisions.
	ConsumeMessages(session string, through int64, captureID string) (int, error)
	// PutCaptureJob inserts j, or replaces the job with its id (keeping
	// its created_at). Its scope must be within the Write's access
	// (*memory.ScopeDeniedError), as must the scope of the job it replaces
	// (else memory.ErrExists: ids are store-wide). An empty id or
	// session, an unknown state, or a Result that is not valid JSON is
	// *memory.InvalidError; an empty Scope is global.
	PutCaptureJob(j CaptureJob) error
	// EraseSession deletes the session's consumed messages in scopes the
	// Write's access reaches (a purge erases the conversation a memory was
	// captured from) and returns how many it deleted. Pending messages stay:
	// no memory was made of them yet.
	EraseSession(session string) (int, error)
}

// JobLocker elects one runner per store for a named background job. The
// lock is the kernel's: it frees itself the instant its holder dies, and
// is never judged by age.
type JobLocker interface {
	// TryJob takes the lock for the job name without waiting. ok is false
	// when another process, or another holder in this one, has it.
	// release frees it; it is safe to call more than once.
	TryJob(name string) (release func(), ok bool, err error)
}
