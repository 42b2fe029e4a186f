package commands

import (
	"fmt"
	"slices"
	"strings"

	"orderflow/domain/catalog"
	"orderflow/domain/customer"
	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/domain/notification"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
)

// The bounded contexts, as `--contexts` names them. Each owns the streams of
// one family (catalog owns product-…, inventory owns stock-…) and is the
// only writer of them; a process running it keeps them in its own log.
// "api" owns no stream: it serves GraphQL and the read models.
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

// Contexts lists every context, in the order `--contexts` documents them.
func Contexts() []string {
	return []string{ContextAPI, ContextOrders, ContextCatalog, ContextCustomers, ContextInventory, ContextFraud, ContextCustomerCheck, ContextPayments, ContextNotifications}
}

// streamPrefixes maps the prefix of each family's stream ids to the
// context that writes them.
var streamPrefixes = map[string]string{
	order.StreamID(""):         ContextOrders,
	catalog.StreamID(""):       ContextCatalog,
	customer.StreamID(""):      ContextCustomers,
	inventory.StreamID(""):     ContextInventory,
	fraud.StreamID(""):         ContextFraud,
	customercheck.StreamID(""): ContextCustomerCheck,
	payment.StreamID(""):       ContextPayments,
	notification.StreamID(""):  ContextNotifications,
}

// StreamContext is the context that writes a stream, "" for a stream of
// no known family.
func StreamContext(streamID string) string {
	prefix, _, ok := strings.Cut(streamID, "-")
	if !ok {
		return ""
	}
	return streamPrefixes[prefix+"-"]
}

// StreamKey is the key of a stream within its family: the product id of
// stock-<productId>, the order id of order-<orderId>.
func StreamKey(streamID string) string {
	_, key, _ := strings.Cut(streamID, "-")
	return key
}

// ReactionContext is the context a reaction (a ConsumerSpec of Consumers)
// belongs to: the one that owns the streams it writes.
func ReactionContext(reaction string) string {
	if reaction == "order-process" {
		return ContextOrders
	}
	return reaction
}

// ProductKeys is the repartition of order events to inventory: the
// products of the event's lines, each once, in order. Events of other types
// have none.
func ProductKeys(p events.Payload) []string {
	var keys []string
	for _, r := range byProduct(events.Event{}, p) {
		if !slices.Contains(keys, r.Key) {
			keys = append(keys, r.Key)
		}
	}
	return keys
}

// CustomerKeys is the repartition of order events to fraud: the customer
// of an OrderPlaced, whose history decides it. Its lanes take a customer's
// orders as "already answered" when they come before the last one
// answered, so the orders must reach them in the order they were placed,
// as one partition keyed by customer carries them. Events of other types
// have none.
func CustomerKeys(p events.Payload) []string {
	var keys []string
	for _, r := range byCustomer(events.Event{}, p) {
		keys = append(keys, r.Key)
	}
	return keys
}

// Needs is what a context reads of other contexts besides the events its
// reactions consume: the families it keeps a local copy of, to load state
// and to check what a command refers to. A context that can run as several
// members of its consumer group (inventory, fraud, the customer check,
// notifications) keeps a copy of its own family too: after a failover the
// streams another member wrote must be in the log of the one that takes
// over before it decides.
func Needs(context string) []string {
	switch context {
	case ContextAPI:
		return []string{ContextOrders, ContextCatalog, ContextCustomers, ContextInventory, ContextFraud, ContextCustomerCheck, ContextPayments, ContextNotifications}
	case ContextOrders:
		return []string{ContextCatalog}
	case ContextInventory:
		return []string{ContextCatalog, ContextInventory}
	case ContextFraud:
		return []string{ContextFraud}
	case ContextCustomerCheck:
		return []string{ContextCustomers, ContextCustomerCheck}
	case ContextNotifications:
		return []string{ContextCustomers, ContextOrders, ContextPayments, ContextNotifications}
	}
	return nil
}

// ScalesOut says a context may run as several members of its consumer
// group: its input is keyed by the streams it writes, and it keeps a copy
// of its own family to take partitions over.
func ScalesOut(context string) bool { return slices.Contains(Needs(context), context) }

// CheckContexts validates a `--contexts` list: known names, no repeats, and
// the contexts that read another's streams synchronously run beside it.
func CheckContexts(list []string) error {
	if len(list) == 0 {
		return fmt.Errorf("no contexts: give at least one of %s", strings.Join(Contexts(), ", "))
	}
	seen := map[string]bool{}
	for _, c := range list {
		if !slices.Contains(Contexts(), c) {
			return fmt.Errorf("unknown context %q: choose from %s", c, strings.Join(Contexts(), ", "))
		}
		if seen[c] {
			return fmt.Errorf("context %q given twice", c)
		}
		seen[c] = true
	}
	// payOrder reads the order stream to check the amount and the status,
	// in the same process, and the order process reads the payment stream.
	if seen[ContextPayments] != seen[ContextOrders] {
		return fmt.Errorf("contexts %q and %q must run in the same process (payOrder reads the order it pays, and the order process the payment)", ContextOrders, ContextPayments)
	}
	return nil
}

// typeContexts maps every event type to the context whose streams hold it.
var typeContexts = func() map[string]string {
	out := map[string]string{}
	add := func(context string, ps ...events.Payload) {
		for _, p := range ps {
			out[p.EventType()] = context
		}
	}
	add(ContextOrders, order.OrderPlaced{}, order.OrderValidated{}, order.OrderFailed{}, order.OrderPaid{},
		order.OrderShipped{}, order.OrderCancelled{})
	add(ContextCatalog, catalog.ProductDefined{}, catalog.ProductRenamed{}, catalog.ProductRepriced{}, catalog.ProductWithdrawn{})
	add(ContextCustomers, customer.CustomerRegistered{}, customer.CustomerAddressChanged{})
	add(ContextInventory, inventory.StockAdded{}, inventory.StockReserved{}, inventory.StockReservationRejected{},
		inventory.StockReleased{}, inventory.StockCommitted{})
	add(ContextFraud, fraud.FraudCheckPassed{}, fraud.FraudCheckFailed{})
	add(ContextCustomerCheck, customercheck.CustomerCheckPassed{}, customercheck.CustomerCheckFailed{})
	add(ContextPayments, payment.PaymentReceived{}, payment.PaymentRefunded{})
	add(ContextNotifications, notification.NotificationSent{})
	return out
}()

// TypeContext is the context whose streams hold events of a type ("" for
// an unknown type).
func TypeContext(eventType string) string { return typeContexts[eventType] }
