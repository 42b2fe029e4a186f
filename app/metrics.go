package app

import (
	"fmt"
	"net/http"

	"orderflow/events"
	"orderflow/projections"
)

// metricsHandler serves the service's positions in the Prometheus text
// format: the head of the log, the relay's checkpoint and each projection's
// position and lag. Enough to alert on a pipeline that stopped moving.
func metricsHandler(db *events.DB, runner *projections.Runner) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		relay, err := db.Checkpoint(r.Context(), events.RelayCheckpoint)
		if err != nil {
			http.Error(w, "metrics unavailable", http.StatusServiceUnavailable)
			return
		}
		head := db.Head()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# HELP orderflow_log_head_position Global position of the last committed event.\n")
		fmt.Fprintf(w, "# TYPE orderflow_log_head_position gauge\norderflow_log_head_position %d\n", head)
		fmt.Fprintf(w, "# HELP orderflow_relay_position Last position the relay recorded as published.\n")
		fmt.Fprintf(w, "# TYPE orderflow_relay_position gauge\norderflow_relay_position %d\n", relay)
		fmt.Fprintf(w, "# HELP orderflow_projection_position Last position applied by a projection.\n")
		fmt.Fprintf(w, "# TYPE orderflow_projection_position gauge\n")
		statuses := runner.Statuses()
		for _, s := range statuses {
			fmt.Fprintf(w, "orderflow_projection_position{projection=%q} %d\n", s.Name, s.Position)
		}
		fmt.Fprintf(w, "# HELP orderflow_projection_lag Positions a projection is behind the head.\n")
		fmt.Fprintf(w, "# TYPE orderflow_projection_lag gauge\n")
		for _, s := range statuses {
			fmt.Fprintf(w, "orderflow_projection_lag{projection=%q} %d\n", s.Name, s.Lag())
		}
		fmt.Fprintf(w, "# HELP orderflow_projection_rebuilding 1 while a rebuild of the projection runs.\n")
		fmt.Fprintf(w, "# TYPE orderflow_projection_rebuilding gauge\n")
		for _, s := range statuses {
			rebuilding := 0
			if s.State == projections.StateRebuilding {
				rebuilding = 1
			}
			fmt.Fprintf(w, "orderflow_projection_rebuilding{projection=%q} %d\n", s.Name, rebuilding)
		}
	}
}
