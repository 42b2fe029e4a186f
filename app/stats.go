package app

import (
	"context"
	"math"
	"time"

	"orderflow/graph/model"
	"orderflow/projections"
)

// stats answers the stats query with what a scrape of /metrics reads, so
// the board's charts and a Prometheus dashboard show the same figures.
func (m *metrics) stats(ctx context.Context) (*model.Stats, error) {
	at := time.Now()
	s, err := m.read(ctx)
	if err != nil {
		return nil, err
	}
	out := &model.Stats{At: at, HeadPosition: s.head,
		Orders: make([]model.OrderStatusCount, len(s.orders)), Projections: make([]model.ProjectionLag, len(s.projections)),
		Reactions: make([]model.ReactionProgress, len(s.reactions))}
	for i, o := range s.orders {
		out.Orders[i] = model.OrderStatusCount{Status: model.OrderStatus(o.Status), Count: count(o.Count)}
	}
	for i, p := range s.projections {
		st := p.status
		out.Projections[i] = model.ProjectionLag{Name: st.Name, Position: st.Position, Lag: st.Lag(),
			LagSeconds: p.lagSeconds, Rebuilding: st.State == projections.StateRebuilding}
	}
	for i, r := range s.reactions {
		out.Reactions[i] = model.ReactionProgress{Name: r.Name, Position: r.Position, Lag: max(r.Head-r.Position, 0),
			LagSeconds: r.LagSeconds, Handled: count(r.Handled), Conflicts: count(r.Conflicts), Retries: count(r.Retries),
			Redeliveries: count(r.Redeliveries), DeadLetters: count(r.DeadLetters), OpenDeadLetters: r.OpenDeadLetters}
	}
	return out, nil
}

// count is a counter as an Int64 of the schema (saturated, never negative).
func count(n uint64) int64 { return int64(min(n, math.MaxInt64)) }
