package kafkabus

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"orderflow/commands"
)

// TestFeedJoinsAfterTheFirstCopy: a feed given JoinAfter stays out of its
// consumer group, and says so, until JoinAfter is closed (the process's
// first copy of the topics is done); then it joins and is given the
// partitions.
func TestFeedJoinsAfterTheFirstCopy(t *testing.T) {
	ctx := context.Background()
	store, reg, cluster, _ := newCopyRig(t)
	log := slog.New(slog.DiscardHandler)
	replica, err := NewReplica(ctx, store, cluster, 2, []string{commands.ContextCatalog}, log)
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	f := &Feed{Context: commands.ContextCatalog, Store: store, Registry: reg, Replica: replica,
		Stage: NewStage(commands.ContextCatalog, store), TransactionalID: "orderflow.catalog.join-test",
		Partitions: 2, Log: log, JoinAfter: gate}
	if err := f.Start(cluster); err != nil {
		t.Fatal(err)
	}
	run, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.Run(run) }()
	t.Cleanup(func() { stop(); <-done; replica.Close() })

	admin, err := NewAdminClient(cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	members := func() int {
		groups, err := kadm.NewClient(admin).DescribeGroups(ctx, GroupName(commands.ContextCatalog))
		if err != nil {
			return 0
		}
		return len(groups[GroupName(commands.ContextCatalog)].Members)
	}

	time.Sleep(500 * time.Millisecond)
	if err := f.Ready(ctx); err == nil || !strings.Contains(err.Error(), "first copy") {
		t.Errorf("before its first copy: Ready = %v, want it to say it waits for the first copy", err)
	}
	if n := members(); n != 0 {
		t.Fatalf("before its first copy the group has %d members, want none", n)
	}

	close(gate)
	deadline := time.Now().Add(15 * time.Second)
	for f.Ready(ctx) != nil || members() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("after the first copy: Ready = %v, %d members", f.Ready(ctx), members())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
