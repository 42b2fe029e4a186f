package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"orderflow/events"
)

// API is what the GraphQL API asks of the write side. *Handlers does all
// of it in this process; a Router sends what belongs to a context running
// elsewhere as a Command.
type API interface {
	RegisterCustomer(ctx context.Context, cmd RegisterCustomer, md events.Metadata) (Result, error)
	UpdateCustomerAddress(ctx context.Context, customerID, address string, md events.Metadata) (Result, error)
	ForgetCustomer(ctx context.Context, customerID string, md events.Metadata) (Result, error)
	UpsertProduct(ctx context.Context, cmd UpsertProduct, md events.Metadata) (Result, error)
	AddStock(ctx context.Context, productID string, quantity int, md events.Metadata) (Result, error)
	PlaceOrder(ctx context.Context, cmd PlaceOrder, md events.Metadata) (Result, error)
	PayOrder(ctx context.Context, orderID string, amountCents int64, md events.Metadata) (Result, error)
	ShipOrder(ctx context.Context, orderID string, md events.Metadata) (Result, error)
	CancelOrder(ctx context.Context, orderID, reason string, md events.Metadata) (Result, error)
}

var _ API = (*Handlers)(nil)

// Command is a command on its way to the context that owns it, as it
// travels over Kafka: its name, the context and the key of the stream it
// is about (its partition key, so one key's commands reach its single
// writer in order), and its arguments.
type Command struct {
	// ID identifies the command: the events it writes name it as their
	// cause, so a command delivered twice is carried out once.
	ID            string          `json:"id"`
	Name          CommandName     `json:"name"`
	Context       string          `json:"context"`
	Key           string          `json:"key"`
	CorrelationID string          `json:"correlationId,omitempty"`
	Args          json.RawMessage `json:"args"`
}

// A CommandName names a command as it travels over Kafka; each is carried
// out by the context that declares it (Context.Commands).
type CommandName string

// The commands of the API.
const (
	CmdRegisterCustomer      CommandName = "RegisterCustomer"
	CmdUpdateCustomerAddress CommandName = "UpdateCustomerAddress"
	CmdForgetCustomer        CommandName = "ForgetCustomer"
	CmdUpsertProduct         CommandName = "UpsertProduct"
	CmdAddStock              CommandName = "AddStock"
	CmdPlaceOrder            CommandName = "PlaceOrder"
	CmdPayOrder              CommandName = "PayOrder"
	CmdShipOrder             CommandName = "ShipOrder"
	CmdCancelOrder           CommandName = "CancelOrder"
	// CmdExpireOrder is not the API's: the deadline timer of an orders
	// member sends it to the member that owns the order (see
	// DeadlineTimer).
	CmdExpireOrder CommandName = "ExpireOrder"
)

// The arguments of the commands that take more than their struct.
type (
	forgetArgs struct {
		CustomerID string `json:"customerId"`
	}
	addressArgs struct {
		CustomerID string `json:"customerId"`
		Address    string `json:"address"`
	}
	stockArgs struct {
		ProductID string `json:"productId"`
		Quantity  int    `json:"quantity"`
	}
	payArgs struct {
		OrderID     string `json:"orderId"`
		AmountCents int64  `json:"amountCents"`
	}
	orderArgs struct {
		OrderID string `json:"orderId"`
		Reason  string `json:"reason,omitempty"`
	}
)

// CommandIDPrefix starts every command id, so that the log can find the
// events a command wrote by their cause (an index covers only these).
const CommandIDPrefix = "cmd-"

// ErrOutcomeUnknown says a command was carried out in a Kafka transaction
// whose end failed (the broker went out of reach as it ended): whether
// it took effect is not known. The API answers TIMEOUT, as it does for a
// command whose answer did not come in time: query again.
var ErrOutcomeUnknown = errors.New("whether it took effect is not known; query it again")

func newCommand(name CommandName, context, key string, md events.Metadata, args any) (Command, error) {
	data, err := json.Marshal(args)
	if err != nil {
		return Command{}, fmt.Errorf("encode %s: %w", name, err)
	}
	return Command{ID: CommandIDPrefix + events.NewID(), Name: name, Context: context, Key: key,
		CorrelationID: md.CorrelationID, Args: data}, nil
}

// Execute carries out a command received from another process, with the
// command's id as the cause of what it writes.
func (h *Handlers) Execute(ctx context.Context, cmd Command) (Result, error) {
	md := events.Metadata{CorrelationID: cmd.CorrelationID, CausationID: cmd.ID}
	// Delivered again (the process stopped before it could say it was
	// done): what it wrote the first time is its result.
	if pos, ok, err := h.store.CommandWritten(ctx, cmd.ID); err != nil || ok {
		return Result{ID: cmd.Key, Position: pos}, err
	}
	switch cmd.Name {
	case CmdRegisterCustomer:
		return run(cmd, func(a RegisterCustomer) (Result, error) { return h.RegisterCustomer(ctx, a, md) })
	case CmdUpdateCustomerAddress:
		return run(cmd, func(a addressArgs) (Result, error) { return h.UpdateCustomerAddress(ctx, a.CustomerID, a.Address, md) })
	case CmdForgetCustomer:
		return run(cmd, func(a forgetArgs) (Result, error) { return h.ForgetCustomer(ctx, a.CustomerID, md) })
	case CmdUpsertProduct:
		return run(cmd, func(a UpsertProduct) (Result, error) { return h.UpsertProduct(ctx, a, md) })
	case CmdAddStock:
		return run(cmd, func(a stockArgs) (Result, error) { return h.AddStock(ctx, a.ProductID, a.Quantity, md) })
	case CmdPlaceOrder:
		return run(cmd, func(a PlaceOrder) (Result, error) { return h.PlaceOrder(ctx, a, md) })
	case CmdPayOrder:
		return run(cmd, func(a payArgs) (Result, error) { return h.PayOrder(ctx, a.OrderID, a.AmountCents, md) })
	case CmdShipOrder:
		return run(cmd, func(a orderArgs) (Result, error) { return h.ShipOrder(ctx, a.OrderID, md) })
	case CmdCancelOrder:
		return run(cmd, func(a orderArgs) (Result, error) { return h.CancelOrder(ctx, a.OrderID, a.Reason, md) })
	case CmdExpireOrder:
		return run(cmd, func(a orderArgs) (Result, error) { return h.ExpireOrder(ctx, a.OrderID, md) })
	}
	return Result{}, fmt.Errorf("unknown command %q", cmd.Name)
}

// CommandArgs are the Go types of the commands' arguments, as Execute
// decodes them: the value of a command's record, which `orderflow schemas`
// describes. A command added to Execute is added here too (a test checks
// every command named is listed).
func CommandArgs() map[CommandName]reflect.Type {
	return map[CommandName]reflect.Type{
		CmdRegisterCustomer:      reflect.TypeFor[RegisterCustomer](),
		CmdUpdateCustomerAddress: reflect.TypeFor[addressArgs](),
		CmdUpsertProduct:         reflect.TypeFor[UpsertProduct](),
		CmdAddStock:              reflect.TypeFor[stockArgs](),
		CmdPlaceOrder:            reflect.TypeFor[PlaceOrder](),
		CmdPayOrder:              reflect.TypeFor[payArgs](),
		CmdShipOrder:             reflect.TypeFor[orderArgs](),
		CmdCancelOrder:           reflect.TypeFor[orderArgs](),
		CmdExpireOrder:           reflect.TypeFor[orderArgs](),
		CmdForgetCustomer:        reflect.TypeFor[forgetArgs](),
	}
}

// run decodes a command's arguments as A and carries it out with do.
func run[A any](cmd Command, do func(A) (Result, error)) (Result, error) {
	var a A
	if err := json.Unmarshal(cmd.Args, &a); err != nil {
		return Result{}, fmt.Errorf("command %s %s: bad arguments: %w", cmd.Name, cmd.ID, err)
	}
	return do(a)
}

// Router is the API of a process split into services: it sends each
// command to its context's topic (Send), where the member that owns the
// command's key carries it out inside its Kafka transaction (maybe this
// process), and returns its result there. One process calls its handlers
// directly.
type Router struct {
	Send func(ctx context.Context, cmd Command) (Result, error)
}

var _ API = (*Router)(nil)

// route sends a command. The ids the handlers would make are made before
// the command leaves, so the caller learns them.
func (r *Router) route(ctx context.Context, name CommandName, key string, md events.Metadata, args any) (Result, error) {
	cmd, err := newCommand(name, CommandContext(name), key, md, args)
	if err != nil {
		return Result{}, err
	}
	res, err := r.Send(ctx, cmd)
	if err == nil && res.ID == "" {
		res.ID = key
	}
	return res, err
}

func (r *Router) RegisterCustomer(ctx context.Context, cmd RegisterCustomer, md events.Metadata) (Result, error) {
	cmd.ID = newID(cmd.ID)
	return r.route(ctx, CmdRegisterCustomer, cmd.ID, md, cmd)
}

func (r *Router) UpdateCustomerAddress(ctx context.Context, customerID, address string, md events.Metadata) (Result, error) {
	return r.route(ctx, CmdUpdateCustomerAddress, customerID, md, addressArgs{customerID, address})
}

func (r *Router) ForgetCustomer(ctx context.Context, customerID string, md events.Metadata) (Result, error) {
	return r.route(ctx, CmdForgetCustomer, customerID, md, forgetArgs{customerID})
}

func (r *Router) UpsertProduct(ctx context.Context, cmd UpsertProduct, md events.Metadata) (Result, error) {
	cmd.ID = newID(cmd.ID)
	return r.route(ctx, CmdUpsertProduct, cmd.ID, md, cmd)
}

func (r *Router) AddStock(ctx context.Context, productID string, quantity int, md events.Metadata) (Result, error) {
	return r.route(ctx, CmdAddStock, productID, md, stockArgs{productID, quantity})
}

func (r *Router) PlaceOrder(ctx context.Context, cmd PlaceOrder, md events.Metadata) (Result, error) {
	cmd.ID = newID(cmd.ID)
	return r.route(ctx, CmdPlaceOrder, cmd.ID, md, cmd)
}

func (r *Router) PayOrder(ctx context.Context, orderID string, amountCents int64, md events.Metadata) (Result, error) {
	return r.route(ctx, CmdPayOrder, orderID, md, payArgs{orderID, amountCents})
}

func (r *Router) ShipOrder(ctx context.Context, orderID string, md events.Metadata) (Result, error) {
	return r.route(ctx, CmdShipOrder, orderID, md, orderArgs{OrderID: orderID})
}

func (r *Router) CancelOrder(ctx context.Context, orderID, reason string, md events.Metadata) (Result, error) {
	return r.route(ctx, CmdCancelOrder, orderID, md, orderArgs{orderID, reason})
}
