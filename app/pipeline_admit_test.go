package app

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestAdmission checks the admission rule of placeOrder: no wait while
// validation keeps within its bound, a wait that ends as soon as it is back
// within it, and a refusal when it is not back within the caller's time.
func TestAdmission(t *testing.T) {
	type seen struct {
		waited   bool
		admitted bool
	}
	tests := []struct {
		name    string
		lag     time.Duration
		dropAt  time.Duration // when the lag falls back to 0; 0 = never
		timeout time.Duration
		wantErr bool
		want    *seen // what was observed; nil = nothing
	}{
		{name: "within the bound", lag: 50 * time.Millisecond, timeout: time.Second},
		{name: "at the bound", lag: 100 * time.Millisecond, timeout: time.Second},
		{name: "over the bound until validation catches up", lag: time.Second, dropAt: 30 * time.Millisecond,
			timeout: 5 * time.Second, want: &seen{waited: true, admitted: true}},
		{name: "over the bound for the whole wait", lag: time.Second, timeout: 40 * time.Millisecond,
			wantErr: true, want: &seen{waited: true, admitted: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *seen
			p := &pipeline{maxLag: 100 * time.Millisecond, observeAdmission: func(waited time.Duration, admitted bool) {
				got = &seen{waited: waited > 0, admitted: admitted}
			}}
			p.lag.Store(int64(tt.lag))
			if tt.dropAt > 0 {
				time.AfterFunc(tt.dropAt, func() { p.lag.Store(0) })
			}
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			err := p.admit(ctx)
			if (err != nil) != tt.wantErr {
				t.Fatalf("admit = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("admit = %v, want it to wrap the deadline", err)
			}
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("observed %+v, want %+v", got, tt.want)
			}
		})
	}
}
