package graph

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"orderflow/graph/access"
)

// sharedOps runs each distinct subscription once for all the WebSocket
// clients that subscribe to it: a board watched by a hundred people costs
// one subscription to the order feed, one execution of the selection set
// and one JSON encoding per change, not a hundred.
//
// Two subscriptions are the same when they have the same query text,
// operation name and variables and come from the same caller (the one
// thing the resolvers read from the context, see access). Each is checked
// by gqlgen's executor on its own (validation, limits) before it joins;
// the execution then runs with the context of the one that started it,
// freed from that connection's end, and stops when the last subscriber
// leaves. Subscriptions of a refused caller, queries and mutations are
// never shared: each runs once for its own operation.
//
// Guarantees to a subscriber: it gets every result of the execution from
// the one before it joined (the newest, sent at once) on, in order, the
// newest replacing one it has not yet been sent (see wsConn.send); when the
// execution ends, a complete (or an error if it panicked).
type sharedOps struct {
	mu     sync.Mutex
	groups map[shareKey]*sharedOp
}

// shareKey is what makes subscriptions the same.
type shareKey struct {
	query, operationName, variables string
	caller                          access.Caller
}

// sharedOp is one execution and the operations that receive its results.
type sharedOp struct {
	key    shareKey
	shared bool // registered under key, for others to join
	cancel context.CancelFunc

	mu      sync.Mutex
	members map[*wsOp]struct{}
	last    []byte // the newest result, encoded
	done    bool
}

// shareKeyOf is the key of a subscription that may be shared.
func shareKeyOf(ctx context.Context, rc *graphql.OperationContext) (shareKey, bool) {
	if rc.Operation == nil || rc.Operation.Operation != ast.Subscription {
		return shareKey{}, false
	}
	caller, err := access.CallerFrom(ctx)
	if err != nil {
		return shareKey{}, false
	}
	// Encoded as the executor coerced them; map keys come out sorted.
	vars, err := json.Marshal(rc.Variables)
	if err != nil {
		return shareKey{}, false
	}
	return shareKey{query: rc.RawQuery, operationName: rc.OperationName, variables: string(vars), caller: caller}, true
}

// join makes op receive the results of the execution of rc: a running one
// of the same subscription, or one it starts with ctx.
func (s *sharedOps) join(ctx context.Context, exec graphql.GraphExecutor, rc *graphql.OperationContext, op *wsOp, present graphql.ErrorPresenterFunc) {
	key, shareable := shareKeyOf(ctx, rc)
	s.mu.Lock()
	if g := s.groups[key]; shareable && g != nil {
		g.mu.Lock()
		g.members[op] = struct{}{}
		op.group = g
		if g.last != nil {
			op.conn.send(wsFrame{kind: frameNext, op: op, payload: g.last})
		}
		g.mu.Unlock()
		s.mu.Unlock()
		return
	}
	g := &sharedOp{key: key, shared: shareable, members: map[*wsOp]struct{}{op: {}}}
	var gctx context.Context
	if shareable {
		// It serves others after this connection ends.
		gctx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
		s.groups[key] = g
	} else {
		gctx, g.cancel = context.WithCancel(ctx)
	}
	op.group = g
	s.mu.Unlock()
	go s.run(gctx, g, exec, rc, present)
}

// leave stops sending g's results to op; the last to leave stops the
// execution.
func (s *sharedOps) leave(op *wsOp) {
	s.mu.Lock()
	g := op.group
	if g == nil {
		s.mu.Unlock()
		return
	}
	g.mu.Lock()
	delete(g.members, op)
	last := len(g.members) == 0 && !g.done
	if last {
		g.done = true
		if g.shared && s.groups[g.key] == g {
			delete(s.groups, g.key)
		}
	}
	g.mu.Unlock()
	s.mu.Unlock()
	if last {
		g.cancel()
	}
}

// run executes rc and hands each result, encoded once, to every member;
// at the end, each member still there gets complete.
func (s *sharedOps) run(ctx context.Context, g *sharedOp, exec graphql.GraphExecutor, rc *graphql.OperationContext, present graphql.ErrorPresenterFunc) {
	defer g.cancel()
	final := wsFrame{kind: frameComplete}
	func() {
		defer func() {
			if r := recover(); r != nil {
				final = wsFrame{kind: frameError, payload: encodeErrors(gqlerror.List{present(ctx, rc.Recover(ctx, r))})}
			}
		}()
		responses, rctx := exec.DispatchOperation(ctx, rc)
		for {
			resp := responses(rctx)
			if resp == nil {
				return
			}
			b, err := json.Marshal(resp)
			if err != nil {
				final = wsFrame{kind: frameError, payload: encodeErrors(gqlerror.List{present(ctx, err)})}
				return
			}
			g.mu.Lock()
			g.last = b
			for op := range g.members {
				op.conn.send(wsFrame{kind: frameNext, op: op, payload: b})
			}
			g.mu.Unlock()
		}
	}()
	s.mu.Lock()
	g.mu.Lock()
	if g.shared && s.groups[g.key] == g {
		delete(s.groups, g.key)
	}
	g.done = true
	members := g.members
	g.members = nil
	g.mu.Unlock()
	s.mu.Unlock()
	for op := range members {
		f := final
		f.op = op
		op.conn.end(op, f)
	}
}
