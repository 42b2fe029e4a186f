package customercheck_test

import (
	"reflect"
	"testing"

	"orderflow/domain/customercheck"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name       string
		done       bool
		registered bool
		want       []customercheck.Event
	}{
		{
			name: "registered customer passes", registered: true,
			want: []customercheck.Event{customercheck.CustomerCheckPassed{OrderID: "o1", CustomerID: "c1"}},
		},
		{
			name: "unknown customer fails", registered: false,
			want: []customercheck.Event{customercheck.CustomerCheckFailed{OrderID: "o1", CustomerID: "c1", Reason: "UNKNOWN_CUSTOMER"}},
		},
		{name: "already checked, registered: nothing", done: true, registered: true},
		{name: "already checked, unknown: nothing", done: true, registered: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := customercheck.Check(tt.done, "o1", "c1", tt.registered)
			if !(len(got) == 0 && len(tt.want) == 0) && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestConstants(t *testing.T) {
	if customercheck.ReasonUnknownCustomer != "UNKNOWN_CUSTOMER" {
		t.Errorf("ReasonUnknownCustomer = %q", customercheck.ReasonUnknownCustomer)
	}
	if got := customercheck.StreamID("o1"); got != "customercheck-o1" {
		t.Errorf("StreamID = %q, want customercheck-o1", got)
	}
}
