package mcpserver

import (
	"context"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// answerFirst wraps a stream transport so that end of input does not cut
// off requests already read: the SDK closes the session as soon as Read
// reports EOF, dropping calls still running and replies not yet written,
// so `printf '<request>\n' | trove serve` would print nothing. The wrapped
// Read holds the end of input back until every request read has been
// answered, or wait has passed.
type answerFirst struct {
	t    mcp.Transport
	wait time.Duration
}

func (a answerFirst) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := a.t.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &answerFirstConn{Connection: c, wait: a.wait, pending: map[any]int{}, closed: make(chan struct{})}, nil
}

type answerFirstConn struct {
	mcp.Connection
	wait time.Duration

	mu        sync.Mutex
	pending   map[any]int   // ids of requests read and not yet answered
	idle      chan struct{} // closed when pending empties; nil when nobody waits
	closed    chan struct{}
	closeOnce sync.Once
}

func (c *answerFirstConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	msg, err := c.Connection.Read(ctx)
	if err != nil {
		c.drain(ctx)
		return nil, err
	}
	if r, ok := msg.(*jsonrpc.Request); ok && r.ID.IsValid() {
		c.mu.Lock()
		c.pending[r.ID.Raw()]++
		c.mu.Unlock()
	}
	return msg, nil
}

func (c *answerFirstConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	err := c.Connection.Write(ctx, msg)
	if r, ok := msg.(*jsonrpc.Response); ok && r.ID.IsValid() {
		c.mu.Lock()
		id := r.ID.Raw()
		if c.pending[id]--; c.pending[id] <= 0 {
			delete(c.pending, id)
		}
		if len(c.pending) == 0 && c.idle != nil {
			close(c.idle)
			c.idle = nil
		}
		c.mu.Unlock()
	}
	return err
}

func (c *answerFirstConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Connection.Close()
}

// drain waits until every request read has been answered, the wait has
// passed, the connection is closed or ctx ends.
func (c *answerFirstConn) drain(ctx context.Context) {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	if c.idle == nil {
		c.idle = make(chan struct{})
	}
	idle := c.idle
	c.mu.Unlock()
	t := time.NewTimer(c.wait)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	case <-c.closed:
	case <-ctx.Done():
	}
}
