package kafkabus

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestAnnounced: the members topic keeps the latest word of every address
// until it is withdrawn; a cluster where no process announced anything
// yet (the topic not even made) holds none.
func TestAnnounced(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	bare, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	if got, err := Announced(ctx, Plaintext(bare.ListenAddrs()...)); err != nil || len(got) != 0 {
		t.Fatalf("a cluster without the members topic: %v, %v; want none", got, err)
	}

	cluster := fakeCluster(ctx, t, 3)
	an, err := NewAnnouncer(cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	at := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	for _, a := range []Announcement{
		{URL: "http://api-1:8080", Contexts: []string{"api"}, At: at},
		{URL: "http://api-2:8080", Contexts: []string{"api"}, At: at},
		{URL: "http://checks-1:8082", Contexts: []string{"fraud"}, At: at},
		{URL: "http://api-1:8080", Contexts: []string{"api"}, At: at.Add(time.Minute), Signature: "s"},
	} {
		if err := an.Announce(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := an.Withdraw(ctx, "http://api-2:8080"); err != nil {
		t.Fatal(err)
	}
	got, err := Announced(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b Announcement) int { return strings.Compare(a.URL, b.URL) })
	if len(got) != 2 || got[0].URL != "http://api-1:8080" || !got[0].At.Equal(at.Add(time.Minute)) || got[0].Signature != "s" ||
		got[1].URL != "http://checks-1:8082" || !slices.Equal(got[1].Contexts, []string{"fraud"}) {
		t.Errorf("announced %+v; want api-1's latest word and checks-1's, api-2's withdrawn", got)
	}
}

// TestAnnouncerGivesUpWithTheBrokerAway: with the broker gone, an announcement or a withdrawal
// fails when its context ends (a process that stops does not wait for ever to withdraw its
// word; the client would retry the record for ever).
func TestAnnouncerGivesUpWithTheBrokerAway(t *testing.T) {
	fake, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	cluster := Plaintext(fake.ListenAddrs()...)
	an, err := NewAnnouncer(cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	// It has spoken with the broker before it goes (as a process that stops has).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := NewAdminClient(cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := EnsureTopics(ctx, admin, TopicSettings{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := an.Announce(ctx, Announcement{URL: "http://api-1:8080", Contexts: []string{"api"}, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	fake.Close()
	for name, try := range map[string]func(context.Context) error{
		"announce": func(ctx context.Context) error {
			return an.Announce(ctx, Announcement{URL: "http://api-1:8080", Contexts: []string{"api"}, At: time.Now()})
		},
		"withdraw": func(ctx context.Context) error { return an.Withdraw(ctx, "http://api-1:8080") },
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		start := time.Now()
		err := try(ctx)
		cancel()
		if err == nil || time.Since(start) > 5*time.Second {
			t.Errorf("%s with the broker away: %v after %s; want an error once its context ends", name, err, time.Since(start))
		}
	}
}
