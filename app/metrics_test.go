package app

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"orderflow/domain/order"
	"orderflow/projections"
)

// TestPositionsCollector checks what one scrape becomes: a gauge per
// position and lag, counters for the reactions' tallies, and no negative
// lag when a reaction read the head before its own position moved past it.
func TestPositionsCollector(t *testing.T) {
	const help = `
# HELP orderflow_log_head_position Global position of the last committed event.
# TYPE orderflow_log_head_position gauge
`
	tests := []struct {
		name  string
		read  scrape
		names []string // metrics compared; the others are ignored
		want  string
	}{
		{
			name:  "empty log",
			names: []string{"orderflow_log_head_position", "orderflow_reaction_position"},
			want: help + `orderflow_log_head_position 0
`,
		},
		{
			name: "projections live and rebuilding",
			read: scrape{head: 10, projections: []projectionScrape{
				{status: projections.Status{Name: "orders", State: projections.StateLive, Position: 7, HeadPosition: 10}, lagSeconds: 1.5},
				{status: projections.Status{Name: "stock", State: projections.StateRebuilding, Position: 10, HeadPosition: 10}},
			}},
			names: []string{"orderflow_log_head_position", "orderflow_projection_position",
				"orderflow_projection_lag", "orderflow_projection_lag_seconds", "orderflow_projection_rebuilding"},
			want: help + `orderflow_log_head_position 10
# HELP orderflow_projection_position Last position applied by a projection.
# TYPE orderflow_projection_position gauge
orderflow_projection_position{projection="orders"} 7
orderflow_projection_position{projection="stock"} 10
# HELP orderflow_projection_lag Positions a projection is behind the head.
# TYPE orderflow_projection_lag gauge
orderflow_projection_lag{projection="orders"} 3
orderflow_projection_lag{projection="stock"} 0
# HELP orderflow_projection_lag_seconds Age of the first event a projection has not applied; 0 when caught up.
# TYPE orderflow_projection_lag_seconds gauge
orderflow_projection_lag_seconds{projection="orders"} 1.5
orderflow_projection_lag_seconds{projection="stock"} 0
# HELP orderflow_projection_rebuilding 1 while a rebuild of the projection runs.
# TYPE orderflow_projection_rebuilding gauge
orderflow_projection_rebuilding{projection="orders"} 0
orderflow_projection_rebuilding{projection="stock"} 1
`,
		},
		{
			name: "orders entered",
			read: scrape{head: 5, orders: []projections.OrderCount{
				{Status: order.Pending, Count: 3}, {Status: order.Validated, Count: 2}, {Status: order.Failed, Count: 1},
			}},
			names: []string{"orderflow_orders_entered_total"},
			want: `
# HELP orderflow_orders_entered_total Orders that entered a status (PENDING: placed; VALIDATED or FAILED: settled), as the live orders read model applied their events since the start.
# TYPE orderflow_orders_entered_total counter
orderflow_orders_entered_total{status="FAILED"} 1
orderflow_orders_entered_total{status="PENDING"} 3
orderflow_orders_entered_total{status="VALIDATED"} 2
`,
		},
		{
			name: "reactions",
			read: scrape{head: 20, reactions: []ReactionStats{
				{Name: "inventory", Position: 15, Head: 20, LagSeconds: 0.25, Handled: 9, Conflicts: 2, Retries: 1, Redeliveries: 3},
				{Name: "payments", Position: 21, Head: 20},
			}},
			names: []string{"orderflow_reaction_position", "orderflow_reaction_lag", "orderflow_reaction_lag_seconds",
				"orderflow_reaction_handled_total", "orderflow_reaction_conflicts_total",
				"orderflow_reaction_retries_total", "orderflow_reaction_redeliveries_total"},
			want: `
# HELP orderflow_reaction_position Position at or below which a reaction has handled every event.
# TYPE orderflow_reaction_position gauge
orderflow_reaction_position{reaction="inventory"} 15
orderflow_reaction_position{reaction="payments"} 21
# HELP orderflow_reaction_lag Positions a reaction is behind the head.
# TYPE orderflow_reaction_lag gauge
orderflow_reaction_lag{reaction="inventory"} 5
orderflow_reaction_lag{reaction="payments"} 0
# HELP orderflow_reaction_lag_seconds Age of the oldest event a reaction has not handled; 0 when caught up.
# TYPE orderflow_reaction_lag_seconds gauge
orderflow_reaction_lag_seconds{reaction="inventory"} 0.25
orderflow_reaction_lag_seconds{reaction="payments"} 0
# HELP orderflow_reaction_handled_total Messages a reaction handled.
# TYPE orderflow_reaction_handled_total counter
orderflow_reaction_handled_total{reaction="inventory"} 9
orderflow_reaction_handled_total{reaction="payments"} 0
# HELP orderflow_reaction_conflicts_total Version conflicts a reaction met when appending.
# TYPE orderflow_reaction_conflicts_total counter
orderflow_reaction_conflicts_total{reaction="inventory"} 2
orderflow_reaction_conflicts_total{reaction="payments"} 0
# HELP orderflow_reaction_retries_total Batch attempts a reaction repeated after a failure.
# TYPE orderflow_reaction_retries_total counter
orderflow_reaction_retries_total{reaction="inventory"} 1
orderflow_reaction_retries_total{reaction="payments"} 0
# HELP orderflow_reaction_redeliveries_total Messages a reaction saw again after it had handled them.
# TYPE orderflow_reaction_redeliveries_total counter
orderflow_reaction_redeliveries_total{reaction="inventory"} 3
orderflow_reaction_redeliveries_total{reaction="payments"} 0
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newPositionsCollector(func(context.Context) (scrape, error) { return tt.read, nil })
			if err := testutil.CollectAndCompare(c, strings.NewReader(tt.want), tt.names...); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestPositionsCollectorFailsTheScrape checks that positions that cannot
// be read fail the scrape instead of vanishing from it.
func TestPositionsCollectorFailsTheScrape(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newPositionsCollector(func(context.Context) (scrape, error) {
		return scrape{}, errors.New("database is locked")
	}))
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Errorf("Gather() error = %v, want the read error", err)
	}
}
