package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"orderflow/graph/generated"
	"orderflow/graph/model"
)

// Limits bound what one request may ask of the server. Every field must be
// positive; app fills them from flags.
type Limits struct {
	// MaxBodyBytes is the largest request body read; a larger one is
	// answered 413 without being read whole.
	MaxBodyBytes int64
	// MaxComplexity bounds the estimated cost of one operation: one per
	// field, list fields counted by their page size or expected length
	// (see complexity).
	MaxComplexity int
	// MaxAliases bounds the aliased fields of one document.
	MaxAliases int
	// MaxMutations bounds the mutation fields one request runs.
	MaxMutations int
	// QueryCacheBytes bounds the query text whose parsed documents are kept.
	QueryCacheBytes int64
	// WebsocketInitTimeout is how long a WebSocket may stay open without
	// sending connection_init.
	WebsocketInitTimeout time.Duration
	// Introspection answers __schema and __type queries; off, they are
	// refused.
	Introspection bool
}

// limitError is a request refused because it asks more than a limit allows.
type limitError struct {
	what       string // "aliases", "mutations", "bytes of request body"
	got, limit int64
}

func (e *limitError) Error() string {
	if e.got < 0 { // the body was not read whole, its size is unknown
		return fmt.Sprintf("the request has more %s than the limit of %d", e.what, e.limit)
	}
	return fmt.Sprintf("the request has %d %s, more than the limit of %d", e.got, e.what, e.limit)
}

// errIntrospectionOff refuses __schema and __type when introspection is off.
var errIntrospectionOff = badInput("introspection is turned off on this server")

// requestLimits refuses, after parsing and before anything runs, operations
// with too many aliases or mutations, and introspection when it is off.
type requestLimits struct {
	maxAliases, maxMutations int
	introspection            bool
}

var _ interface {
	graphql.OperationContextMutator
	graphql.HandlerExtension
} = requestLimits{}

func (requestLimits) ExtensionName() string                   { return "RequestLimits" }
func (requestLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (l requestLimits) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if n := countAliases(opCtx.Doc); n > l.maxAliases {
		return gqlerror.Wrap(&limitError{what: "aliases", got: int64(n), limit: int64(l.maxAliases)})
	}
	op := opCtx.Operation
	switch op.Operation {
	case ast.Mutation:
		// Collected as they run: a field repeated under one name runs once.
		if n := len(graphql.CollectFields(opCtx, op.SelectionSet, []string{"Mutation"})); n > l.maxMutations {
			return gqlerror.Wrap(&limitError{what: "mutations", got: int64(n), limit: int64(l.maxMutations)})
		}
	case ast.Query:
		if l.introspection {
			return nil
		}
		// Validation allows __schema and __type only among the root fields.
		for _, f := range graphql.CollectFields(opCtx, op.SelectionSet, []string{"Query"}) {
			if f.Name == "__schema" || f.Name == "__type" {
				return gqlerror.Wrap(errIntrospectionOff)
			}
		}
	}
	return nil
}

// countAliases counts the aliased fields written in the document, each
// fragment once: what the client sent, not what fragments multiply (that is
// the complexity limit's part).
func countAliases(doc *ast.QueryDocument) int {
	var count func(ast.SelectionSet) int
	count = func(set ast.SelectionSet) int {
		n := 0
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if s.Alias != "" && s.Alias != s.Name {
					n++
				}
				n += count(s.SelectionSet)
			case *ast.InlineFragment:
				n += count(s.SelectionSet)
			}
		}
		return n
	}
	n := 0
	for _, op := range doc.Operations {
		n += count(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		n += count(f.SelectionSet)
	}
	return n
}

// Expected lengths of the list fields that take no page size. An order has
// at most 100 lines but usually a few; its stream holds placement,
// validation, payment, shipping and cancellation; its timeline adds a
// reservation and a commit per line and the fraud and customer checks.
const (
	expectedLines    = 10
	expectedHistory  = 10
	expectedTimeline = 30
	projectionCount  = 10
	// reactionCount bounds the reactions of stats (one per reaction of
	// the pipeline) and statusCount its orders (one per order status).
	reactionCount = 10
	statusCount   = 6
)

// complexity prices list fields by how many elements they may return, so
// that the complexity limit bounds the work and the size of an answer:
// a paged field costs its page size times its selection, an unpaged list
// its expected length times its selection. Other fields cost one plus
// their selection (gqlgen's default).
func complexity() generated.ComplexityRoot {
	var c generated.ComplexityRoot
	connection := func(child int, first *int, _ *string) int {
		return listCost(child, page(first, defaultPage, maxPage))
	}
	c.Query.Orders = func(child int, _ *string, _ *model.OrderStatus, first *int, after *string) int {
		return connection(child, first, after)
	}
	c.Query.Products = connection
	c.Query.Customers = connection
	c.Query.Events = func(child int, _ *string, _ *int64, first *int) int {
		return listCost(child, page(first, 100, maxEvents))
	}
	c.Query.Notifications = func(child int, _ *string, _ *string, first *int) int {
		return listCost(child, page(first, 100, maxEvents))
	}
	c.Query.Projections = func(child int) int { return listCost(child, projectionCount) }
	c.Stats.Projections = func(child int) int { return listCost(child, projectionCount) }
	c.Stats.Reactions = func(child int) int { return listCost(child, reactionCount) }
	c.Stats.Orders = func(child int) int { return listCost(child, statusCount) }
	c.Order.Lines = func(child int) int { return listCost(child, expectedLines) }
	c.Order.History = func(child int) int { return listCost(child, expectedHistory) }
	c.Order.Timeline = func(child int) int { return listCost(child, expectedTimeline) }
	return c
}

// page is the page size a paged field will use: its first argument (the
// schema's default when absent), no more than the resolver accepts.
func page(first *int, def, limit int) int {
	n := def
	if first != nil {
		n = *first
	}
	return max(0, min(n, limit))
}

// listCost is 1 + n × child, saturating instead of overflowing.
func listCost(child, n int) int {
	if child > 0 && n > (math.MaxInt32-1)/child {
		return math.MaxInt32
	}
	return 1 + n*child
}

// limitRequest guards the GraphQL endpoint before gqlgen sees a request: it
// reads at most maxBody bytes of body (413 beyond), refuses a body that is
// not a JSON GraphQL request without echoing it back.
//
// WebSocket upgrades pass through: the server's read and write timeouts do
// not bound a subscription, because net/http clears a connection's
// deadlines when the WebSocket transport hijacks it (the transport bounds
// each write itself, see wsTransport).
func limitRequest(next http.Handler, maxBody int64, present graphql.ErrorPresenterFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := &limitError{what: "bytes of request body", got: -1, limit: maxBody}
		if r.ContentLength > maxBody {
			tooLarge.got = r.ContentLength
			refuse(w, r, http.StatusRequestEntityTooLarge, present, tooLarge)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		var maxErr *http.MaxBytesError
		switch {
		case errors.As(err, &maxErr):
			refuse(w, r, http.StatusRequestEntityTooLarge, present, tooLarge)
			return
		case err != nil:
			// Most often the read timeout cut a body that came too slowly.
			refuse(w, r, http.StatusBadRequest, present, badInput("the request body could not be read"))
			return
		}
		if isJSON(r) {
			// gqlgen quotes the whole body back when it cannot decode it;
			// decoding it here first (as gqlgen does) keeps that answer
			// short.
			var params graphql.RawParams
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&params); err != nil {
				refuse(w, r, http.StatusBadRequest, present, badInput("the request body is not a JSON GraphQL request: "+jsonProblem(err)))
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func isJSON(r *http.Request) bool {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mediaType == "application/json"
}

// jsonProblem describes a decoding error by where it is, never by the text
// of the body.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return "it must be a JSON object"
	case errors.As(err, &typ):
		return fmt.Sprintf("%s must not be a JSON %s", typ.Field, typ.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	default:
		return "invalid JSON"
	}
}

// refuse answers a request refused before it reached gqlgen, as a GraphQL
// response whose error is presented (given its code) like every other, and
// without data, as nothing ran (see overHTTP).
func refuse(w http.ResponseWriter, r *http.Request, status int, present graphql.ErrorPresenterFunc, err error) {
	b, mErr := json.Marshal(struct {
		Errors gqlerror.List `json:"errors"`
	}{gqlerror.List{present(r.Context(), err)}})
	if mErr != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
