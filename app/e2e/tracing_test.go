package e2e

import (
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSpan is a span an OTLP receiver was sent, with the resource of the process that sent it.
type otlpSpan struct {
	traceID, spanID, parentID, name string
	contexts                        string // the resource's orderflow.contexts: which process
	service                         string // the resource's service.name
}

// otlpReceiver is a small OTLP/HTTP trace receiver (POST /v1/traces, protobuf), as a collector
// would be: it keeps every span it is sent.
type otlpReceiver struct {
	url      string
	mu       sync.Mutex
	spans    []otlpSpan
	requests int
}

func newOTLPReceiver(t *testing.T) *otlpReceiver { return newOTLPReceiverOn(t, nil) }

// newOTLPReceiverOn is a receiver on ln (nil: a port of its own).
func newOTLPReceiverOn(t *testing.T, ln net.Listener) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
			http.NotFound(w, req)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = gz
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var export collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &export); err != nil {
			t.Errorf("OTLP receiver: a request that is not an ExportTraceServiceRequest (%s): %v", req.Header.Get("Content-Type"), err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.requests++
		for _, rs := range export.ResourceSpans {
			attrs := attributes(rs.GetResource().GetAttributes())
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					r.spans = append(r.spans, otlpSpan{traceID: hexOf(s.TraceId), spanID: hexOf(s.SpanId), parentID: hexOf(s.ParentSpanId),
						name: s.Name, contexts: attrs["orderflow.contexts"], service: attrs["service.name"]})
				}
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	if ln != nil {
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start()
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// attributes are string attributes by key.
func attributes(kvs []*commonpb.KeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		out[kv.Key] = kv.GetValue().GetStringValue()
	}
	return out
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// received is a copy of the spans received so far, and how many export requests came.
func (r *otlpReceiver) received() ([]otlpSpan, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]otlpSpan(nil), r.spans...), r.requests
}

// withoutOTel is the test's environment without any OTEL_ variable, so that what a service
// inherits is only what a test gives it.
func withoutOTel(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "OTEL_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

// timelineEvent is an entry of an order's timeline with its trace id.
type timelineEvent struct {
	StreamID string  `json:"streamId"`
	Type     string  `json:"type"`
	TraceID  *string `json:"traceId"`
}

func (c *client) tracedTimeline(t testing.TB, id string) []timelineEvent {
	t.Helper()
	var out struct {
		Order struct {
			Timeline []timelineEvent `json:"timeline"`
		} `json:"order"`
	}
	c.do(t, `query($id: ID!) { order(id: $id) { timeline { streamId type traceId } } }`, map[string]any{"id": id}, &out)
	return out.Order.Timeline
}

// TestSplitOneTracePerOrder is the "one trace per order": the README's three services on
// one devbroker, each exporting by OTLP/HTTP to a receiver of the test (the SDK's standard
// OTEL_EXPORTER_OTLP_ENDPOINT). Placing one order gives one trace: the GraphQL operation, the
// command carried out by the orders member, the reservations of the inventory service, the fraud
// and customer checks, the validation and the projections, spans of all three processes under one
// trace id, which the order's timeline names on every entry. The records of the order carry the
// trace context in ce_traceparent.
func TestSplitOneTracePerOrder(t *testing.T) {
	withoutOTel(t)
	recv := newOTLPReceiver(t)
	s := newSplitDeployment(t)
	s.env = []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + recv.url, "OTEL_BSP_SCHEDULE_DELAY=100"}
	c := s.service("api", apiContexts).client
	s.service("inventory", "inventory")
	s.service("checks", checkContexts)

	c.registerCustomer(t, "ada", "Ada Lovelace", "ada@example.com", "12 Analytical St")
	c.upsertProduct(t, "kettle", "Kettle", 2500)
	c.addStock(t, "kettle", 10)
	c.placeValidated(t, "1001", "ada", []Line{{"kettle", 2}})

	// The timeline names one trace, on every entry: the placement, the reservation, the checks,
	// the validation.
	var trace string
	eventually(t, settleTimeout, func() (bool, string) {
		tl := c.tracedTimeline(t, "1001")
		ids := map[string]bool{}
		types := map[string]bool{}
		for _, e := range tl {
			types[e.Type] = true
			if e.TraceID == nil {
				return false, "timeline entry " + e.Type + " of " + e.StreamID + " names no trace"
			}
			ids[*e.TraceID] = true
			trace = *e.TraceID
		}
		for _, want := range []string{"OrderPlaced", "StockReserved", "FraudCheckPassed", "CustomerCheckPassed", "OrderValidated"} {
			if !types[want] {
				return false, "no " + want + " in the timeline yet: " + jsonString(tl)
			}
		}
		if len(ids) != 1 || len(trace) != 32 {
			return false, "the timeline names the traces " + jsonString(ids) + ", want one"
		}
		return true, ""
	})

	// Spans of that trace from every process: the api's operation, command and projections, the
	// inventory's and the checks' reactions.
	eventually(t, settleTimeout, func() (bool, string) {
		spans, _ := recv.received()
		byProcess := map[string][]string{}
		for _, sp := range spans {
			if sp.traceID == trace {
				byProcess[sp.contexts] = append(byProcess[sp.contexts], sp.name)
			}
		}
		for _, p := range []string{apiContexts, "inventory", checkContexts} {
			if len(byProcess[p]) == 0 {
				return false, "no span of trace " + trace + " from the " + p + " service yet; by process: " + jsonString(byProcess)
			}
		}
		api := strings.Join(byProcess[apiContexts], ",")
		for _, want := range []string{"graphql mutation", "command PlaceOrder", "execute PlaceOrder", "react ", "project"} {
			if !strings.Contains(api, want) {
				return false, "no span " + want + " from the api service: " + api
			}
		}
		if !strings.Contains(strings.Join(byProcess["inventory"], ","), "react inventory") {
			return false, "no reaction span from inventory: " + jsonString(byProcess["inventory"])
		}
		checks := strings.Join(byProcess[checkContexts], ",")
		if !strings.Contains(checks, "react fraud") || !strings.Contains(checks, "react customercheck") {
			return false, "no fraud and customer check reaction spans: " + checks
		}
		return true, ""
	})
	spans, _ := recv.received()
	var names []string
	roots := 0
	for _, sp := range spans {
		if sp.traceID != trace {
			continue
		}
		names = append(names, sp.contexts+": "+sp.name)
		if sp.parentID == "" {
			roots++
		}
		if sp.service != "orderflow" {
			t.Errorf("span %s: service.name %q, want orderflow", sp.name, sp.service)
		}
	}
	sort.Strings(names)
	t.Logf("trace %s, %d spans:\n%s", trace, len(names), strings.Join(names, "\n"))
	if roots != 1 {
		t.Errorf("trace %s has %d root spans, want 1 (the GraphQL operation)", trace, roots)
	}

	// The records carry the trace context: the command, its reply, the order's events, the
	// reservation.
	traced := func(topic string, match func(kcatRecord) bool) {
		t.Helper()
		n := 0
		for _, r := range kcatTopic(t, s.broker.addr, topic) {
			if !match(r) {
				continue
			}
			n++
			tp := r.Headers["ce_traceparent"]
			if !strings.HasPrefix(tp, "00-"+trace+"-") || len(tp) != 55 {
				t.Errorf("%s record %s: ce_traceparent %q, want one of trace %s", topic, r.Headers["ce_type"], tp, trace)
			}
		}
		if n == 0 {
			t.Errorf("no record of order 1001 on %s", topic)
		}
	}
	// The placement crossed Kafka as a command and a reply unless the API's own orders member
	// carried it out in its process (it owns every partition here, and takes a command when its
	// poll brings records to commit it with).
	sent := false
	for _, r := range kcatTopic(t, s.broker.addr, "orderflow.orders.commands") {
		sent = sent || r.Key == "1001"
	}
	if sent {
		var commandID string
		traced("orderflow.orders.commands", func(r kcatRecord) bool {
			if r.Key == "1001" {
				commandID = r.Headers["ce_id"]
				return true
			}
			return false
		})
		traced("orderflow.replies", func(r kcatRecord) bool { return r.Headers["ce_subject"] == commandID })
	}
	traced("orderflow.orders", func(r kcatRecord) bool { return r.Key == "1001" })
	traced("orderflow.inventory", func(r kcatRecord) bool { return strings.Contains(r.Payload, `"1001"`) })
	traced("orderflow.order-validations", func(r kcatRecord) bool { return r.Key == "1001" })
}

// TestSplitTracingOff: without OTEL_EXPORTER_OTLP_ENDPOINT nothing is traced, though other OTEL_
// variables are set: no export reaches a receiver on the SDK's default endpoint (localhost:4318,
// where an SDK turned on without an endpoint would send), no record carries ce_traceparent or
// ce_tracestate, and the timeline names no trace.
func TestSplitTracingOff(t *testing.T) {
	withoutOTel(t)
	var recv *otlpReceiver
	if ln, err := net.Listen("tcp", "127.0.0.1:4318"); err == nil {
		recv = newOTLPReceiverOn(t, ln)
	} else {
		t.Logf("the OTLP default port 4318 is taken (%v): not watching it", err)
	}
	s := newSplitDeployment(t)
	s.env = []string{"OTEL_SERVICE_NAME=orderflow-off", "OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_TRACES_SAMPLER=always_on"}
	c := s.service("api", apiContexts).client
	s.service("inventory", "inventory")
	s.service("checks", checkContexts)

	c.registerCustomer(t, "ada", "Ada Lovelace", "ada@example.com", "12 Analytical St")
	c.upsertProduct(t, "kettle", "Kettle", 2500)
	c.addStock(t, "kettle", 10)
	c.placeValidated(t, "1001", "ada", []Line{{"kettle", 2}})
	c.payOrder(t, "1001", 5000)

	for _, e := range c.tracedTimeline(t, "1001") {
		if e.TraceID != nil {
			t.Errorf("timeline entry %s names trace %s with tracing off", e.Type, *e.TraceID)
		}
	}
	for _, topic := range []string{"orderflow.orders.commands", "orderflow.replies", "orderflow.orders", "orderflow.inventory",
		"orderflow.fraud", "orderflow.order-validations", "orderflow.notifications"} {
		recs := kcatTopic(t, s.broker.addr, topic)
		// A command the API's own member carried out in its process left no command or reply.
		if len(recs) == 0 && topic != "orderflow.orders.commands" && topic != "orderflow.replies" {
			t.Errorf("no record on %s", topic)
		}
		for _, r := range recs {
			for name := range r.Headers {
				if strings.HasPrefix(name, "ce_trace") {
					t.Errorf("%s record %s carries %s with tracing off", topic, r.Headers["ce_type"], name)
				}
			}
		}
	}
	if recv != nil {
		time.Sleep(500 * time.Millisecond) // more than OTEL_BSP_SCHEDULE_DELAY: an exporter would have sent
		if spans, requests := recv.received(); requests != 0 || len(spans) != 0 {
			t.Errorf("tracing off, yet the receiver on the default endpoint got %d requests, %d spans", requests, len(spans))
		}
	}
}

// TestOneProcessOneTracePerOrder: in one process too, placing an order is one trace: the
// operation, the command, every reaction and the projections, named by the timeline.
func TestOneProcessOneTracePerOrder(t *testing.T) {
	withoutOTel(t)
	recv := newOTLPReceiver(t)
	p := startBinaryEnv(t, needBinary(t), []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + recv.url, "OTEL_BSP_SCHEDULE_DELAY=100"},
		filepath.Join(t.TempDir(), "of.db"))
	c := p.client
	c.registerCustomer(t, "ada", "Ada Lovelace", "ada@example.com", "12 Analytical St")
	c.upsertProduct(t, "kettle", "Kettle", 2500)
	c.addStock(t, "kettle", 10)
	c.placeValidated(t, "1001", "ada", []Line{{"kettle", 2}})

	ids := map[string]bool{}
	var trace string
	for _, e := range c.tracedTimeline(t, "1001") {
		if e.TraceID == nil {
			t.Fatalf("timeline entry %s names no trace", e.Type)
		}
		ids[*e.TraceID], trace = true, *e.TraceID
	}
	if len(ids) != 1 {
		t.Fatalf("the timeline names the traces %v, want one", ids)
	}
	eventually(t, settleTimeout, func() (bool, string) {
		spans, _ := recv.received()
		var names []string
		for _, sp := range spans {
			if sp.traceID == trace {
				names = append(names, sp.name)
			}
		}
		all := strings.Join(names, ",")
		for _, want := range []string{"graphql mutation", "command PlaceOrder", "react inventory", "react fraud",
			"react customercheck", "react order-process", "project"} {
			if !strings.Contains(all, want) {
				return false, "no span " + want + " in trace " + trace + " yet: " + all
			}
		}
		return true, ""
	})
}
