package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"orderflow/domain/order"
	"orderflow/events"
)

// A Context is a bounded context as orderflow runs it, declared once, in the
// file named after it (inventory.go declares inventoryContext). Everything
// that routes by context is derived from the list of declarations (Declared):
// the event registry, which context writes a stream or an event type, what a
// process split into services copies of others, its reactions and which of
// them an order waits for, which commands it carries out, and the re-keyed
// topics of Kafka. Adding a validation service is its domain package, its
// declaration and its tests; TestDeclarationsAreComplete says what is
// missing.
type Context struct {
	// Name is the context as `--contexts` names it.
	Name string
	// Streams is the prefix of the ids of the streams it writes and is the
	// only writer of ("stock-" for inventory), its family; "" when it
	// writes none (the API).
	Streams string
	// Events are the event types its streams hold, each with its current
	// schema version and the upcasters from older ones.
	Events []events.Registration
	// Commands are the commands it carries out (sent to it over Kafka when
	// it runs in another process), keyed by the key of its stream.
	Commands []CommandName
	// Copies are the families of other contexts it reads synchronously, to
	// load state and to check what a command refers to: split into
	// services, a process keeps a copy of them in its own log.
	Copies []string
	// CopiesAll says it reads every family (the API's read models).
	CopiesAll bool
	// ScalesOut says it may run as several members of its consumer group,
	// split into services: its commands and its reaction's input are keyed
	// by the streams it writes, and each member keeps a copy of its own
	// family to take partitions over.
	ScalesOut bool
	// Table says its family is a table: the latest event of a key is what
	// matters to readers, and a relay publishes it before what follows
	// (a price must be known before an order that uses it).
	Table bool
	// Reaction is how it reacts to the events of the order flow; nil when
	// it only carries out commands.
	Reaction *Reaction
	// Check is the validation of an order it reports, "" for none.
	Check order.Check
	// ReadModels are the projections it serves queries from.
	ReadModels []string
	// Snapshot, for a context whose streams grow with every order (a
	// product's stock, a customer's fraud window), is a stream's folded
	// state and its version. Split into services, its members keep a
	// compacted changelog of them (the talk's state stores backed by
	// changelog topics), and a new member starts from it instead of the
	// family's whole history.
	Snapshot func(ctx context.Context, h *Handlers, streamID string) (state []byte, version int64, err error)
}

// KeepsChangelog says a context's members keep a changelog of its streams'
// state (Context.Snapshot).
func KeepsChangelog(context string) bool {
	c := byName[context]
	return c != nil && c.Snapshot != nil
}

// Snapshot is a stream's folded state as its context's changelog carries
// it, and its version, read from the log and what the outbox holds.
func (h *Handlers) Snapshot(ctx context.Context, streamID string) ([]byte, int64, error) {
	c := byName[StreamContext(streamID)]
	if c == nil || c.Snapshot == nil {
		return nil, 0, fmt.Errorf("no changelog keeps the state of %q", streamID)
	}
	return c.Snapshot(ctx, h, streamID)
}

// A ReactionName names a reaction: its checkpoint, its dead letters and its
// figures in /metrics are kept under it.
type ReactionName string

// A Reaction is a context's consumer of the log: what it reads, how each
// event is keyed (the key of the stream it writes, so one lane owns each),
// and the lane that decides.
type Reaction struct {
	Name ReactionName
	// Input are the event types it consumes.
	Input []events.Payload
	// Route gives the keys an event goes to.
	Route func(events.Event, events.Payload) []events.Routed
	// Rekey, when set, is the topic that carries its input of other
	// families re-keyed by Route, the talk's "re-key by product id": one
	// member of its consumer group then owns each key and sees its events
	// in the order they were written.
	Rekey *Rekey
	// Validates says an order waits for it before it is validated or
	// failed: admission (--max-validation-lag) measures its lag.
	Validates bool
	// Lane makes the handler of one lane (see events.ConsumerSpec.NewLane).
	Lane func(h *Handlers, startHead int64) events.BatchHandler
}

// A Rekey is a topic that carries the events of some families keyed by
// what a reaction writes.
type Rekey struct {
	Topic    string   // its name, after "orderflow."
	Families []string // whose events it carries
}

// Types names the event types the reaction consumes.
func (r *Reaction) Types() []string { return eventTypes(r.Input...) }

// Keys are the keys Route gives an event's payload, each once, in order:
// the records of a re-keyed topic an event becomes.
func (r *Reaction) Keys(p events.Payload) []string {
	var keys []string
	for _, rt := range r.Route(events.Event{}, p) {
		if !slices.Contains(keys, rt.Key) {
			keys = append(keys, rt.Key)
		}
	}
	return keys
}

// The bounded contexts, as `--contexts` names them.
const (
	ContextAPI           = "api"
	ContextOrders        = "orders"
	ContextCatalog       = "catalog"
	ContextCustomers     = "customers"
	ContextInventory     = "inventory"
	ContextFraud         = "fraud"
	ContextCustomerCheck = "customercheck"
	ContextPayments      = "payments"
	ContextNotifications = "notifications"
)

// Declared lists every context, in the order `--contexts` documents them.
func Declared() []*Context {
	return []*Context{&apiContext, &ordersContext, &catalogContext, &customersContext, &inventoryContext,
		&fraudContext, &customerCheckContext, &paymentsContext, &notificationsContext}
}

// The tables derived from the declarations, built once.
var (
	byName       = map[string]*Context{}
	byPrefix     = map[string]*Context{}
	byType       = map[string]*Context{}
	byCommand    = map[CommandName]*Context{}
	byReaction   = map[ReactionName]*Context{}
	contextNames []string
)

func init() {
	for _, c := range Declared() {
		contextNames = append(contextNames, c.Name)
		byName[c.Name] = c
		if c.Streams != "" {
			byPrefix[c.Streams] = c
		}
		for _, r := range c.Events {
			byType[r.Payload.EventType()] = c
		}
		for _, n := range c.Commands {
			byCommand[n] = c
		}
		if c.Reaction != nil {
			byReaction[c.Reaction.Name] = c
		}
	}
}

// Contexts lists the name of every context, in the order `--contexts`
// documents them.
func Contexts() []string { return slices.Clone(contextNames) }

// Lookup is the declaration of a context, nil for an unknown name.
func Lookup(name string) *Context { return byName[name] }

// StreamContext is the context that writes a stream, "" for a stream of
// no known family.
func StreamContext(streamID string) string {
	prefix, _, ok := strings.Cut(streamID, "-")
	if !ok {
		return ""
	}
	if c := byPrefix[prefix+"-"]; c != nil {
		return c.Name
	}
	return ""
}

// StreamKey is the key of a stream within its family: the product id of
// stock-<productId>, the order id of order-<orderId>.
func StreamKey(streamID string) string {
	_, key, _ := strings.Cut(streamID, "-")
	return key
}

// TypeContext is the context whose streams hold events of a type ("" for
// an unknown type).
func TypeContext(eventType string) string {
	if c := byType[eventType]; c != nil {
		return c.Name
	}
	return ""
}

// ReactionContext is the context a reaction belongs to, "" for none.
func ReactionContext(reaction string) string {
	if c := byReaction[ReactionName(reaction)]; c != nil {
		return c.Name
	}
	return ""
}

// CommandContext is the context that carries out a command, "" for none.
func CommandContext(name CommandName) string {
	if c := byCommand[name]; c != nil {
		return c.Name
	}
	return ""
}

// Needs is what a context reads of other contexts besides the events its
// reaction consumes: the families it keeps a local copy of. A context that
// scales out keeps a copy of its own family too: after a failover the
// streams another member wrote must be in the log of the one that takes
// over before it decides.
func Needs(context string) []string {
	c := byName[context]
	if c == nil {
		return nil
	}
	out := slices.Clone(c.Copies)
	if c.CopiesAll {
		for _, f := range Declared() {
			if f.Streams != "" {
				out = append(out, f.Name)
			}
		}
	}
	if c.ScalesOut {
		out = append(out, c.Name)
	}
	return out
}

// ScalesOut says a context may run as several members of its consumer
// group.
func ScalesOut(context string) bool {
	c := byName[context]
	return c != nil && c.ScalesOut
}

// Validating are the reactions an order waits for before it is validated
// or failed.
func Validating() []ReactionName {
	var out []ReactionName
	for _, c := range Declared() {
		if c.Reaction != nil && c.Reaction.Validates {
			out = append(out, c.Reaction.Name)
		}
	}
	return out
}

// CheckContexts validates a `--contexts` list: known names, no repeats.
func CheckContexts(list []string) error {
	if len(list) == 0 {
		return fmt.Errorf("no contexts: give at least one of %s", strings.Join(Contexts(), ", "))
	}
	seen := map[string]bool{}
	for _, c := range list {
		if byName[c] == nil {
			return fmt.Errorf("unknown context %q: choose from %s", c, strings.Join(Contexts(), ", "))
		}
		if seen[c] {
			return fmt.Errorf("context %q given twice", c)
		}
		seen[c] = true
	}
	return nil
}
