package copartition_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands/kafkabus/copartition"
)

const group = "orderflow-test-copartition"

// partition is one partition of one topic.
type partition struct {
	topic string
	n     int32
}

// ownership is what each member holds, as the client's assign, revoke and
// lost callbacks tell it. It records every moment a partition was given to
// a member while another member still held it.
type ownership struct {
	mu       sync.Mutex
	held     map[string]map[partition]bool
	revoked  map[string][]assignment // non-empty revokes, in order
	assigned map[string][]assignment // non-empty assigns, in order
	overlaps []string
}

func newOwnership() *ownership {
	return &ownership{
		held:     map[string]map[partition]bool{},
		revoked:  map[string][]assignment{},
		assigned: map[string][]assignment{},
	}
}

func (o *ownership) assign(name string, a assignment) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.held[name] == nil {
		o.held[name] = map[partition]bool{}
	}
	for topic, ps := range a {
		for _, n := range ps {
			p := partition{topic, n}
			for other, held := range o.held {
				if other != name && held[p] {
					o.overlaps = append(o.overlaps, fmt.Sprintf("%s/%d given to %s while %s holds it", topic, n, name, other))
				}
			}
			o.held[name][p] = true
		}
	}
	if len(a) > 0 {
		o.assigned[name] = append(o.assigned[name], a)
	}
}

func (o *ownership) revoke(name string, a assignment) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for topic, ps := range a {
		for _, n := range ps {
			delete(o.held[name], partition{topic, n})
		}
	}
	if len(a) > 0 {
		o.revoked[name] = append(o.revoked[name], a)
	}
}

// snapshot is what every member holds now.
func (o *ownership) snapshot() plan {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := plan{}
	for name, held := range o.held {
		p[name] = assignment{}
		for tp := range held {
			p[name][tp.topic] = append(p[name][tp.topic], tp.n)
		}
	}
	return normalize(p)
}

// since is the non-empty revokes and assigns of name after the first
// revokes and assigns it had.
func (o *ownership) since(name string, revokes, assigns int) (revoked, assigned []assignment) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.revoked[name][revokes:]), slices.Clone(o.assigned[name][assigns:])
}

func (o *ownership) counts(name string) (revokes, assigns int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.revoked[name]), len(o.assigned[name])
}

func (o *ownership) checkNoOverlaps(t *testing.T) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, overlap := range o.overlaps {
		t.Error(overlap)
	}
}

// join starts a group member named name that reports to o.
func join(t *testing.T, addr, name string, o *ownership) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ClientID(name),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(orders, commands),
		kgo.Balancers(copartition.Balancer()),
		// Members notice a rebalance on their next heartbeat; short
		// ones keep the test fast, nothing is asserted about time.
		kgo.HeartbeatInterval(50*time.Millisecond),
		kgo.SessionTimeout(2*time.Second),
		kgo.RebalanceTimeout(5*time.Second),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { o.assign(name, a) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { o.revoke(name, a) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { o.revoke(name, a) }),
	)
	if err != nil {
		t.Fatalf("client %s: %v", name, err)
	}
	return cl
}

// checkSettled describes what is wrong with held as the settled state of a
// group of members: every partition of both topics held by exactly one of
// them, each holding the same indices in both topics, as many indices as
// the others give or take one, and the broker agreeing that the group is
// stable with this assignment. It returns "" if nothing is.
func checkSettled(ctx context.Context, adm *kadm.Client, held plan, members ...string) string {
	var counts []int
	for name, a := range held {
		if !slices.Contains(members, name) {
			if len(a) > 0 {
				return fmt.Sprintf("%s, not a member, holds %v", name, a)
			}
			continue
		}
		if !slices.Equal(a[orders], a[commands]) {
			return fmt.Sprintf("%s holds %s %v but %s %v", name, orders, a[orders], commands, a[commands])
		}
	}
	for _, name := range members {
		counts = append(counts, len(held[name][orders]))
	}
	if slices.Max(counts)-slices.Min(counts) > 1 {
		return fmt.Sprintf("unbalanced: %v", held)
	}
	for _, topic := range []string{orders, commands} {
		for n := range int32(6) {
			var holders []string
			for name, a := range held {
				if slices.Contains(a[topic], n) {
					holders = append(holders, name)
				}
			}
			if len(holders) != 1 {
				return fmt.Sprintf("%s/%d held by %v", topic, n, holders)
			}
		}
	}

	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return fmt.Sprintf("describe group: %v", err)
	}
	g := described[group]
	if g.Err != nil || g.State != "Stable" || g.Protocol != copartition.Protocol || len(g.Members) != len(members) {
		return fmt.Sprintf("group %s: state %q protocol %q, %d members, err %v", group, g.State, g.Protocol, len(g.Members), g.Err)
	}
	for _, m := range g.Members {
		c, ok := m.Assigned.AsConsumer()
		if !ok {
			return fmt.Sprintf("member %s: not a consumer assignment", m.ClientID)
		}
		broker := assignment{}
		for _, topic := range c.Topics {
			broker[topic.Topic] = topic.Partitions
		}
		if got := normalize(plan{"": broker})[""]; !maps.EqualFunc(got, held[m.ClientID], slices.Equal) {
			return fmt.Sprintf("broker has %s assigned %v, the client holds %v", m.ClientID, got, held[m.ClientID])
		}
	}
	return ""
}

// waitSettled waits until the group of members has settled (see
// checkSettled) and returns what each member holds.
func waitSettled(ctx context.Context, t *testing.T, o *ownership, adm *kadm.Client, members ...string) plan {
	t.Helper()
	for {
		held := o.snapshot()
		wrong := checkSettled(ctx, adm, held, members...)
		if wrong == "" {
			return held
		}
		select {
		case <-ctx.Done():
			t.Fatalf("group of %v did not settle: %s", members, wrong)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// indices is the partition indices of a co-partitioned assignment.
func indices(a assignment) []int32 { return a[orders] }

// union is every partition in as, per topic, sorted.
func union(as []assignment) assignment {
	u := assignment{}
	for _, a := range as {
		for topic, ps := range a {
			u[topic] = append(u[topic], ps...)
		}
	}
	for topic := range u {
		sort.Slice(u[topic], func(i, j int) bool { return u[topic][i] < u[topic][j] })
	}
	return u
}

// TestCooperativeRebalance runs a group of two topics of six partitions on
// an in-process broker: a consumes alone, b joins, a leaves. After each
// settled rebalance every partition index is held by exactly one member in
// both topics; when b joins, a gives up only what b gets; and at no moment
// do two members hold one partition.
func TestCooperativeRebalance(t *testing.T) {
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(6, orders, commands),
		kfake.GroupMinSessionTimeout(100*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	addr := cluster.ListenAddrs()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	admClient, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admClient.Close()
	adm := kadm.NewClient(admClient)
	o := newOwnership()

	a := join(t, addr, "a", o)
	closeA := sync.OnceFunc(a.Close)
	defer closeA()
	alone := waitSettled(ctx, t, o, adm, "a")
	if got := indices(alone["a"]); len(got) != 6 {
		t.Fatalf("a alone holds %v", alone)
	}

	revokes, assigns := o.counts("a")
	b := join(t, addr, "b", o)
	defer b.Close()
	pair := waitSettled(ctx, t, o, adm, "a", "b")
	revoked, assigned := o.since("a", revokes, assigns)
	if len(assigned) != 0 {
		t.Errorf("a was assigned %v while b joined; it should only have given partitions up", assigned)
	}
	if len(revoked) == 0 {
		t.Errorf("a revoked nothing while b joined, yet b holds %v", pair["b"])
	}
	if got, want := union(revoked), pair["b"]; !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("a revoked %v while b joined; want exactly what moved to b, %v", revoked, want)
	}
	t.Logf("b joined: a keeps %v, revoked %v in %d call(s); b holds %v", indices(pair["a"]), indices(union(revoked)), len(revoked), indices(pair["b"]))

	closeA() // leaves the group, revoking everything first
	alone = waitSettled(ctx, t, o, adm, "b")
	if got := indices(alone["b"]); len(got) != 6 {
		t.Fatalf("b alone holds %v", alone)
	}
	o.checkNoOverlaps(t)
	if t.Failed() {
		t.Log(o.history())
	}
}

// history is every non-empty assign and revoke, per member.
func (o *ownership) history() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var sb strings.Builder
	for _, name := range slices.Sorted(maps.Keys(o.held)) {
		fmt.Fprintf(&sb, "\n%s assigned %v, revoked %v", name, o.assigned[name], o.revoked[name])
	}
	return sb.String()
}
