package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// wsTransport serves GraphQL over WebSocket with the graphql-transport-ws
// protocol (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md),
// built to hold many idle subscribers cheaply:
//
//   - one goroutine per connection, which reads; the upgrade handler
//     returns, so net/http's buffers and the request are let go, and the
//     connection keeps a 512-byte read buffer and borrows a write buffer
//     only while it writes;
//   - writes are queued on the connection and done by a few writer
//     goroutines shared by all connections, each write bounded by a
//     deadline;
//   - subscribers of the same operation (query, variables, caller) share one
//     execution (see sharedOps): a change is executed and encoded once, and
//     only the message's id differs between their frames.
//
// Operations go through gqlgen's executor like those over HTTP: parsing,
// validation, the request limits, the complexity limit and the error
// presenter apply. Queries and mutations are answered with next and
// complete. Clients of the older graphql-ws subprotocol are left to gqlgen's
// transport, registered after this one.
type wsTransport struct {
	upgrader     websocket.Upgrader
	init         transport.WebsocketInitFunc
	initTimeout  time.Duration
	pingInterval time.Duration
	readLimit    int64
	present      graphql.ErrorPresenterFunc
	shared       *sharedOps
	writers      *wsWriters
	keepAlive    *wsKeepAlive
}

// wsSubprotocol is the WebSocket subprotocol of graphql-transport-ws.
const wsSubprotocol = "graphql-transport-ws"

// Close codes graphql-transport-ws gives to protocol violations.
const (
	closeBadRequest   = 4400 // an invalid message
	closeUnauthorized = 4401 // subscribe before the connection was acknowledged
	closeForbidden    = 4403 // connection_init refused
	closeInitTimeout  = 4408 // no connection_init in time
	closeDuplicateID  = 4409 // subscribe with the id of an active operation
	closeTooManyInits = 4429 // a second connection_init
)

const (
	// wsWriteTimeout bounds one write; a client that does not read for
	// that long is disconnected rather than hold a writer.
	wsWriteTimeout = 10 * time.Second
	// wsCloseGrace is how long a closing connection waits for the
	// client's close frame, so the client reads ours before the TCP
	// connection goes.
	wsCloseGrace = 2 * time.Second
	// wsMaxQueued bounds the messages waiting to be written to one
	// connection. Updates of a subscription replace each other in the
	// queue, so only a client that stops reading while asking for more
	// (pings, new operations) reaches it.
	wsMaxQueued = 256
	// wsWriterCount is how many goroutines write queued messages: enough
	// that a few clients slow to read do not hold up the others.
	wsWriterCount = 8
)

// newWSTransport returns the transport: init takes the caller from
// connection_init (nil accepts everyone as the upgrade request's caller),
// initTimeout bounds the wait for it (0: none), idle connections are pinged
// every pingInterval (0: never), a client message may hold readLimit bytes
// (0: no limit), and present presents the errors of a failed execution.
func newWSTransport(init transport.WebsocketInitFunc, initTimeout, pingInterval time.Duration, readLimit int64, present graphql.ErrorPresenterFunc) *wsTransport {
	return &wsTransport{
		upgrader: websocket.Upgrader{
			Subprotocols: []string{wsSubprotocol},
			// A small read buffer is enough for protocol messages (larger
			// ones are read in several pieces); the write buffer is lent
			// from the pool for the time of a write.
			ReadBufferSize:  512,
			WriteBufferSize: 4096,
			WriteBufferPool: &sync.Pool{},
		},
		init:         init,
		initTimeout:  initTimeout,
		pingInterval: pingInterval,
		readLimit:    readLimit,
		present:      present,
		shared:       &sharedOps{groups: map[shareKey]*sharedOp{}},
		writers:      &wsWriters{max: wsWriterCount},
		keepAlive:    &wsKeepAlive{conns: map[*wsConn]time.Time{}},
	}
}

var _ graphql.Transport = (*wsTransport)(nil)

// Supports takes WebSocket upgrades that offer graphql-transport-ws.
func (t *wsTransport) Supports(r *http.Request) bool {
	return websocket.IsWebSocketUpgrade(r) && slices.Contains(websocket.Subprotocols(r), wsSubprotocol)
}

// Do upgrades the connection and hands it to a goroutine of its own, so
// that this request's goroutine and buffers end here.
func (t *wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ws, err := t.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered the request with an HTTP error
	}
	if t.readLimit > 0 {
		ws.SetReadLimit(t.readLimit)
	}
	// The request's context ends when this handler returns; the
	// connection keeps its values (the caller, the request id).
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	c := &wsConn{t: t, ws: ws, exec: exec, headers: r.Header, ctx: ctx, cancel: cancel, ops: map[string]*wsOp{}}
	go c.serve()
}

// wsMessage is a message of graphql-transport-ws, as the client sends it.
type wsMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// wsConn is one client's connection. Its goroutine (serve) reads and
// handles the client's messages; what the server sends is queued (send)
// and written by the transport's writers.
type wsConn struct {
	t       *wsTransport
	ws      *websocket.Conn
	exec    graphql.GraphExecutor
	headers http.Header
	// ctx is the connection's, from the upgrade request and then from
	// connection_init; it ends when the connection does. Only serve
	// replaces it.
	ctx    context.Context
	cancel context.CancelFunc
	// Read and written by serve only.
	initReceived, acked bool

	mu sync.Mutex
	// out holds the frames waiting to be written, in order.
	out []wsFrame
	// scheduled: the connection is (or is about to be) with a writer.
	scheduled bool
	closed    bool
	// ops are the active operations by id.
	ops map[string]*wsOp
}

// wsOp is an operation a client started with subscribe.
type wsOp struct {
	conn   *wsConn
	id     string
	idJSON []byte // id as a JSON string, ready for the frames
	group  *sharedOp
}

// frameKind says what a queued frame is.
type frameKind uint8

const (
	frameAck frameKind = iota
	framePing
	framePong
	frameNext
	frameError
	frameComplete
)

// wsFrame is a message waiting to be written: for next, error and complete,
// that of op; payload is JSON, nil when the message has none.
type wsFrame struct {
	kind    frameKind
	op      *wsOp
	payload []byte
}

// serve reads the client's messages until the connection ends, then
// releases what the connection holds.
func (c *wsConn) serve() {
	defer c.release()
	if c.t.initTimeout > 0 {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.t.initTimeout))
	}
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !c.initReceived {
				// The client sent nothing, so closing the socket right
				// after the close frame loses nothing of it.
				c.close(closeInitTimeout, "Connection initialisation timeout")
			}
			return
		}
		if c.isClosed() {
			continue // waiting for the client's close frame
		}
		var m wsMessage
		if err := json.Unmarshal(data, &m); err != nil {
			c.close(closeBadRequest, "Invalid message received: not a JSON object")
			continue
		}
		c.handle(m)
	}
}

// handle acts on one message of the client.
func (c *wsConn) handle(m wsMessage) {
	switch m.Type {
	case "connection_init":
		c.connectionInit(m.Payload)
	case "ping":
		c.send(wsFrame{kind: framePong, payload: nonNull(m.Payload)})
	case "pong":
		// An answer to our keep-alive ping: nothing to do.
	case "subscribe":
		switch {
		case !c.acked:
			c.close(closeUnauthorized, "Unauthorized")
		case m.ID == "":
			c.close(closeBadRequest, "Invalid message received: subscribe without an id")
		default:
			c.subscribe(m.ID, m.Payload)
		}
	case "complete":
		c.mu.Lock()
		op := c.ops[m.ID]
		if op != nil {
			delete(c.ops, m.ID)
		}
		c.mu.Unlock()
		if op != nil {
			c.t.shared.leave(op)
		}
	default:
		c.close(closeBadRequest, fmt.Sprintf("Invalid message received: unexpected type %q", m.Type))
	}
}

// nonNull is p unless it is absent or JSON null.
func nonNull(p json.RawMessage) []byte {
	if len(p) == 0 || string(p) == "null" {
		return nil
	}
	return p
}

// connectionInit takes the caller from the payload (t.init), acknowledges,
// and closes the connection when the resulting context ends (the token
// expires).
func (c *wsConn) connectionInit(raw json.RawMessage) {
	if c.initReceived {
		c.close(closeTooManyInits, "Too many initialisation requests")
		return
	}
	c.initReceived = true
	var payload transport.InitPayload
	if p := nonNull(raw); p != nil {
		if err := json.Unmarshal(p, &payload); err != nil {
			c.close(closeBadRequest, "Invalid message received: the connection_init payload must be an object")
			return
		}
	}
	ctx := c.ctx
	var ack *transport.InitPayload
	if c.t.init != nil {
		var err error
		if ctx, ack, err = c.t.init(c.ctx, payload); err != nil {
			c.close(closeForbidden, "Forbidden")
			return
		}
	}
	c.ctx = ctx
	context.AfterFunc(ctx, func() {
		// The cause says why (the token has expired); the connection's own
		// end makes this a no-op.
		reason := ""
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			reason = cause.Error()
		}
		c.close(websocket.CloseNormalClosure, reason)
	})
	var ackPayload []byte
	if ack != nil {
		b, err := json.Marshal(*ack)
		if err != nil {
			c.close(websocket.CloseInternalServerErr, "the connection_ack payload cannot be encoded")
			return
		}
		ackPayload = b
	}
	c.acked = true
	_ = c.ws.SetReadDeadline(time.Time{})
	c.send(wsFrame{kind: frameAck, payload: ackPayload})
	c.t.keepAlive.add(c)
}

// subscribe starts operation id: it is checked and prepared by gqlgen's
// executor (refusals are answered with an error message) and then joins
// an execution shared with the subscribers of the same operation.
func (c *wsConn) subscribe(id string, raw json.RawMessage) {
	c.mu.Lock()
	_, dup := c.ops[id]
	c.mu.Unlock()
	if dup {
		c.close(closeDuplicateID, "Subscriber for "+truncate(id, 80)+" already exists")
		return
	}
	start := graphql.Now()
	var params graphql.RawParams
	if err := decodeParams(raw, &params); err != nil {
		c.close(closeBadRequest, "Invalid message received: the subscribe payload is not a GraphQL request")
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	params.Headers = c.headers
	idJSON, _ := json.Marshal(id) // a string always encodes
	op := &wsOp{conn: c, id: id, idJSON: idJSON}

	ctx := graphql.StartOperationTrace(c.ctx)
	rc, errs := c.exec.CreateOperationContext(ctx, &params)
	if errs != nil {
		// Refused before it ran (parse, validation, variables, limits):
		// an error message, which ends the operation.
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		c.send(wsFrame{kind: frameError, op: op, payload: encodeErrors(resp.Errors)})
		return
	}
	c.mu.Lock()
	c.ops[id] = op
	c.mu.Unlock()
	c.t.shared.join(graphql.WithOperationContext(ctx, rc), c.exec, rc, op, c.t.present)
}

// decodeParams decodes a subscribe payload as gqlgen decodes a request
// body: numbers kept as written.
func decodeParams(raw json.RawMessage, params *graphql.RawParams) error {
	if nonNull(raw) == nil {
		return errors.New("no payload")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(params)
}

// encodeErrors is the payload of an error message.
func encodeErrors(errs gqlerror.List) []byte {
	b, err := json.Marshal(errs)
	if err != nil {
		b, _ = json.Marshal(gqlerror.List{{Message: "the errors cannot be encoded"}})
	}
	return b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// end ends op from the server's side (its execution finished) with last,
// a complete or error frame, unless the client completed it already.
func (c *wsConn) end(op *wsOp, last wsFrame) {
	c.mu.Lock()
	mine := c.ops[op.id] == op
	if mine {
		delete(c.ops, op.id)
	}
	c.mu.Unlock()
	if mine {
		c.send(last)
	}
}

func (c *wsConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// send queues f for the writers. An update of a subscription replaces one
// of the same operation still waiting: a client that reads slowly gets
// the newest state, not a backlog; none is sent for an operation the
// client has completed. It never blocks.
func (c *wsConn) send(f wsFrame) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if f.kind == frameNext {
		if c.ops[f.op.id] != f.op {
			// Completed by the client while its execution was sending.
			c.mu.Unlock()
			return
		}
		for i := range c.out {
			if c.out[i].kind == frameNext && c.out[i].op == f.op {
				c.out[i].payload = f.payload
				c.mu.Unlock()
				return
			}
		}
	}
	if len(c.out) >= wsMaxQueued {
		c.mu.Unlock()
		// Not here: send may be called with a shared operation's lock
		// held, and closing writes.
		go c.close(websocket.ClosePolicyViolation, "too many messages waiting: the client does not read them")
		return
	}
	c.out = append(c.out, f)
	schedule := !c.scheduled
	c.scheduled = true
	c.mu.Unlock()
	if schedule {
		c.t.writers.schedule(c)
	}
}

// flush writes the queued frames, with buf as scratch space; it is called
// by one writer at a time (scheduled).
func (c *wsConn) flush(buf []byte) []byte {
	for {
		c.mu.Lock()
		frames := c.out
		c.out = nil
		if len(frames) == 0 || c.closed {
			c.scheduled = false
			c.mu.Unlock()
			return buf
		}
		c.mu.Unlock()
		for _, f := range frames {
			buf = appendFrame(buf[:0], f)
			_ = c.ws.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, buf); err != nil {
				c.mu.Lock()
				c.out, c.scheduled = nil, false
				c.mu.Unlock()
				// The client is gone or does not read: end the connection.
				_ = c.ws.Close()
				return buf
			}
		}
	}
}

// appendFrame appends f's message to b.
func appendFrame(b []byte, f wsFrame) []byte {
	var typ string
	switch f.kind {
	case frameAck:
		typ = "connection_ack"
	case framePing:
		typ = "ping"
	case framePong:
		typ = "pong"
	case frameNext:
		typ = "next"
	case frameError:
		typ = "error"
	case frameComplete:
		typ = "complete"
	}
	b = append(b, '{')
	if f.op != nil {
		b = append(b, `"id":`...)
		b = append(b, f.op.idJSON...)
		b = append(b, ',')
	}
	b = append(b, `"type":"`...)
	b = append(b, typ...)
	b = append(b, '"')
	if f.payload != nil {
		b = append(b, `,"payload":`...)
		b = append(b, f.payload...)
	}
	return append(b, '}')
}

// close sends a close frame with code and reason and lets serve wait
// briefly for the client's answer; what is still queued is dropped.
// Calling it again does nothing.
func (c *wsConn) close(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.out = nil
	c.mu.Unlock()
	// A close frame's reason is at most 123 bytes.
	msg := websocket.FormatCloseMessage(code, truncate(reason, 123))
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	_ = c.ws.SetReadDeadline(time.Now().Add(wsCloseGrace))
}

// release ends the connection's operations and closes the socket.
func (c *wsConn) release() {
	c.mu.Lock()
	c.closed = true
	c.out = nil
	ops := c.ops
	c.ops = nil
	c.mu.Unlock()
	for _, op := range ops {
		c.t.shared.leave(op)
	}
	c.t.keepAlive.remove(c)
	c.cancel()
	_ = c.ws.Close()
}

// wsWriters write the connections' queued frames. Writer goroutines are
// started as work comes, up to max, and end when there is none, so an idle
// server holds none.
type wsWriters struct {
	mu      sync.Mutex
	ready   []*wsConn
	running int
	max     int
}

// schedule hands c, which has frames to write, to a writer.
func (w *wsWriters) schedule(c *wsConn) {
	w.mu.Lock()
	w.ready = append(w.ready, c)
	start := w.running < w.max
	if start {
		w.running++
	}
	w.mu.Unlock()
	if start {
		go w.work()
	}
}

func (w *wsWriters) work() {
	var buf []byte
	for {
		w.mu.Lock()
		if len(w.ready) == 0 {
			w.ready = w.ready[:0]
			w.running--
			w.mu.Unlock()
			return
		}
		c := w.ready[0]
		w.ready[0] = nil
		w.ready = w.ready[1:]
		w.mu.Unlock()
		buf = c.flush(buf)
	}
}

// wsKeepAlive pings every acknowledged connection once per interval,
// the first time one interval after its acknowledgement, from one goroutine
// that runs while there are connections.
type wsKeepAlive struct {
	mu      sync.Mutex
	conns   map[*wsConn]time.Time // when each is due a ping
	running bool
}

// keepAliveTicks is how many times per interval the keep-alive looks for
// connections due a ping: a connection is pinged at most this fraction of
// the interval late.
const keepAliveTicks = 10

func (k *wsKeepAlive) add(c *wsConn) {
	interval := c.t.pingInterval
	if interval <= 0 {
		return
	}
	k.mu.Lock()
	k.conns[c] = time.Now().Add(interval)
	start := !k.running
	k.running = true
	k.mu.Unlock()
	if start {
		go k.run(interval)
	}
}

func (k *wsKeepAlive) remove(c *wsConn) {
	k.mu.Lock()
	delete(k.conns, c)
	k.mu.Unlock()
}

func (k *wsKeepAlive) run(interval time.Duration) {
	tick := time.NewTicker(interval / keepAliveTicks)
	defer tick.Stop()
	var due []*wsConn
	for now := range tick.C {
		k.mu.Lock()
		if len(k.conns) == 0 {
			k.running = false
			k.mu.Unlock()
			return
		}
		due = due[:0]
		for c, at := range k.conns {
			if !now.Before(at) {
				due = append(due, c)
				k.conns[c] = now.Add(interval)
			}
		}
		k.mu.Unlock()
		for _, c := range due {
			c.send(wsFrame{kind: framePing})
		}
		clear(due)
	}
}
