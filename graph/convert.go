package graph

import (
	"strconv"
	"strings"

	"orderflow/domain/bounds"
	"orderflow/domain/order"
	"orderflow/events"
	"orderflow/graph/model"
	"orderflow/projections"
)

func toOrder(o *projections.Order) *model.Order {
	if o == nil {
		return nil
	}
	lines := make([]model.OrderLine, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = model.OrderLine{ProductID: l.ProductID, Quantity: l.Quantity, UnitPriceCents: l.UnitPriceCents}
	}
	reasons := o.FailureReasons
	if reasons == nil {
		reasons = []string{}
	}
	return &model.Order{
		ID: o.ID, CustomerID: o.CustomerID, Status: model.OrderStatus(o.Status), Lines: lines,
		TotalCents: o.TotalCents, PaidCents: o.PaidCents, RefundedCents: o.RefundedCents, FailureReasons: reasons, Version: int(o.Version),
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, CancellationReason: cancellationReason(o),
	}
}

// cancellationReason is why a cancelled order was; nil for any other.
func cancellationReason(o *projections.Order) *string {
	if o.Status != "CANCELLED" {
		return nil
	}
	r := o.CancellationReason
	return &r
}

func toProduct(p *projections.Product) *model.Product {
	if p == nil {
		return nil
	}
	return &model.Product{ID: p.ID, Name: p.Name, PriceCents: p.PriceCents}
}

func toStock(s *projections.Stock) *model.Stock {
	if s == nil {
		return nil
	}
	return &model.Stock{ProductID: s.ProductID, OnHand: s.OnHand, Reserved: s.Reserved, Available: s.Available()}
}

func toCustomer(c *projections.Customer) *model.Customer {
	if c == nil {
		return nil
	}
	return &model.Customer{ID: c.ID, Name: c.Name, Email: c.Email, Address: c.Address, Forgotten: c.Forgotten}
}

func toEvent(e events.Event) model.Event {
	return model.Event{
		Position: e.Position, StreamID: e.StreamID, Version: int(e.StreamVersion), Type: e.Type,
		SchemaVersion: e.SchemaVersion, OccurredAt: e.OccurredAt,
		CorrelationID: optional(e.CorrelationID), CausationID: optional(e.CausationID), Data: string(e.Data),
		TraceID: optional(events.TraceID(e.TraceParent)),
	}
}

func toEvents(evs []events.Event) []model.Event {
	out := make([]model.Event, len(evs))
	for i, e := range evs {
		out[i] = toEvent(e)
	}
	return out
}

func toProjectionStatus(s projections.Status) *model.ProjectionStatus {
	out := &model.ProjectionStatus{
		Name: s.Name, State: model.ProjectionState(s.State), Position: s.Position,
		HeadPosition: s.HeadPosition, Lag: s.Lag(), LastRebuiltAt: s.LastRebuiltAt,
	}
	if s.State == projections.StateRebuilding {
		rate := s.EventsPerSecond
		out.EventsPerSecond = &rate
	}
	return out
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func value(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkStreamID bounds a stream id as ids are bounded: a stream id is
// <context>-<id>, so the part after the context's short name is checked
// as an id (and the whole, when it has no such prefix).
func checkStreamID(streamID string) error {
	if prefix, id, ok := strings.Cut(streamID, "-"); ok && len(prefix) <= maxStreamPrefix {
		streamID = id
	}
	return bounds.CheckID("streamId", streamID)
}

// maxStreamPrefix is longer than the name of any context ("customer").
const maxStreamPrefix = 16

func toRequestedLines(in []model.OrderLineInput) []order.RequestedLine {
	out := make([]order.RequestedLine, len(in))
	for i, l := range in {
		out[i] = order.RequestedLine{ProductID: l.ProductID, Quantity: l.Quantity}
	}
	return out
}

func toDeadLetter(l events.DeadLetter) *model.DeadLetter {
	return &model.DeadLetter{
		ID: strconv.FormatInt(l.ID, 10), Reaction: l.Reader, Position: l.Position, EventID: l.EventID,
		EventType: l.EventType, Key: l.Key, Error: l.Error, Attempts: l.Attempts, FailedAt: l.FailedAt,
		State: model.DeadLetterState(l.State), RetriedAt: l.RetriedAt,
	}
}
