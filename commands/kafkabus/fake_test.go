package kafkabus

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// fakeCluster starts a one-broker kfake cluster, closed when the test ends,
// with every orderflow topic made with the given number of partitions.
func fakeCluster(ctx context.Context, t *testing.T, partitions int) Cluster {
	t.Helper()
	fake, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	cluster := Plaintext(fake.ListenAddrs()...)
	admin, err := NewAdminClient(cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := EnsureTopics(ctx, admin, TopicSettings{Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
	return cluster
}
