package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// overHTTP runs one of gqlgen's HTTP transports (POST or GET) and answers a
// request error, a request refused before anything ran (a document that
// does not parse or validate, variables that do not coerce, a limit of
// requestLimits or of complexity), as the GraphQL over HTTP spec asks:
//
//   - with application/json, 200: the spec wants 200 for every well-formed
//     request whatever its GraphQL errors, where gqlgen answers 422;
//   - with application/graphql-response+json, 400, where gqlgen answers
//     200 for the refusals of extensions;
//   - with either, 400 when the request has no query at all: it is not a
//     well-formed GraphQL over HTTP request (automatic persisted queries,
//     which may omit it, are not served);
//   - with either, without a "data" entry: nothing was executed, and the
//     GraphQL spec leaves data out for request errors where gqlgen writes
//     "data": null.
//
// Errors met while executing (a resolver's, with data) are left as they are.
type overHTTP struct {
	graphql.Transport
}

func (t overHTTP) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	rw := &requestErrorWriter{ResponseWriter: w}
	t.Transport.Do(rw, r, noticeRequestErrors{GraphExecutor: exec, w: rw})
	rw.finish()
}

// noticeRequestErrors tells the writer, before the transport writes its
// status, that the request was refused before execution.
type noticeRequestErrors struct {
	graphql.GraphExecutor
	w *requestErrorWriter
}

func (e noticeRequestErrors) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	opCtx, errs := e.GraphExecutor.CreateOperationContext(ctx, params)
	if errs != nil {
		e.w.failed = true
		e.w.noQuery = params.Query == ""
	}
	return opCtx, errs
}

// requestErrorWriter passes everything through, except the answer to a
// request error: that one it holds until the transport is done, to write
// it with the spec's status and without data.
type requestErrorWriter struct {
	http.ResponseWriter
	failed, noQuery bool
	body            bytes.Buffer
}

func (w *requestErrorWriter) WriteHeader(code int) {
	if !w.failed {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *requestErrorWriter) Write(b []byte) (int, error) {
	if !w.failed {
		return w.ResponseWriter.Write(b)
	}
	return w.body.Write(b)
}

// Unwrap lets http.ResponseController reach the connection underneath.
func (w *requestErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *requestErrorWriter) finish() {
	if !w.failed {
		return
	}
	w.ResponseWriter.WriteHeader(requestErrorStatus(w.Header().Get("Content-Type"), w.noQuery))
	_, _ = w.ResponseWriter.Write(withoutData(w.body.Bytes()))
}

// requestErrorStatus is the status of a request error answered as
// contentType (the media type the transport chose from the Accept header).
func requestErrorStatus(contentType string, noQuery bool) int {
	mediaType, _, _ := mime.ParseMediaType(contentType)
	if noQuery || mediaType == "application/graphql-response+json" {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// withoutData drops the "data" entry of a GraphQL response, keeping
// everything else; a body that is not a JSON object is returned as it is.
func withoutData(body []byte) []byte {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return body
	}
	delete(fields, "data")
	out, err := json.Marshal(fields)
	if err != nil {
		return body
	}
	return out
}
