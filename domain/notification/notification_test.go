package notification_test

import (
	"reflect"
	"testing"
	"time"

	"orderflow/domain/notification"
)

func TestConfirmOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	ada := &notification.Recipient{CustomerID: "c1", Email: "ada@example.com", Address: "1 Loop St"}
	sent := []notification.Event{notification.NotificationSent{
		OrderID: "o1", CustomerID: "c1", Kind: notification.KindOrderConfirmed,
		Email: "ada@example.com", Address: "1 Loop St", SentAt: t0.Add(time.Hour),
	}}
	tests := []struct {
		name  string
		facts notification.Facts
		want  []notification.Event
	}{
		{"validated then paid", notification.Facts{ValidatedAt: at(0), PaidAt: at(time.Minute), PaymentMatches: true, Recipient: ada}, sent},
		{"paid before it validated", notification.Facts{ValidatedAt: at(time.Minute), PaidAt: at(0), PaymentMatches: true, Recipient: ada}, sent},
		{"exactly the window apart", notification.Facts{ValidatedAt: at(0), PaidAt: at(time.Hour), PaymentMatches: true, Recipient: ada}, sent},
		{"just outside the window", notification.Facts{ValidatedAt: at(0), PaidAt: at(time.Hour + time.Nanosecond), PaymentMatches: true, Recipient: ada}, nil},
		{"outside the window, paid first", notification.Facts{ValidatedAt: at(2 * time.Hour), PaidAt: at(0), PaymentMatches: true, Recipient: ada}, nil},
		{"not validated", notification.Facts{PaidAt: at(0), PaymentMatches: true, Recipient: ada}, nil},
		{"not paid", notification.Facts{ValidatedAt: at(0), Recipient: ada}, nil},
		{"payment does not match the total", notification.Facts{ValidatedAt: at(0), PaidAt: at(0), Recipient: ada}, nil},
		{"unknown customer", notification.Facts{ValidatedAt: at(0), PaidAt: at(0), PaymentMatches: true}, nil},
		{"already sent", notification.Facts{AlreadySent: true, ValidatedAt: at(0), PaidAt: at(0), PaymentMatches: true, Recipient: ada}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := notification.ConfirmOrder("o1", tt.facts, time.Hour, t0.Add(time.Hour))
			if !(len(got) == 0 && len(tt.want) == 0) && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}
