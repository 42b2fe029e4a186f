package copartition_test

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"orderflow/commands/kafkabus/copartition"
)

// The two topics of the inventory group, keyed alike by product.
const (
	orders   = "orderflow.orders-by-product"
	commands = "orderflow.inventory.commands"
)

// assignment is topic => partitions, of one member.
type assignment = map[string][]int32

// plan is member ID => assignment.
type plan = map[string]assignment

// joining is a member as its JoinGroup metadata describes it.
type joining struct {
	id     string
	topics []string   // nil: both topics
	owned  assignment // what it claims to own
	gen    int32      // the generation it owned it in; -1 for a new member
}

// at is the partition indices ps in both topics.
func at(ps ...int32) assignment {
	return assignment{orders: ps, commands: ps}
}

func sixEach() map[string]int32 { return map[string]int32{orders: 6, commands: 6} }

// balance runs the balancer as kgo's group leader does (metadata encoded
// by the balancer's own JoinGroupMetadata, balanced through
// kgo.NewConsumerBalancer) and decodes the SyncGroup assignments.
func balance(t *testing.T, counts map[string]int32, group []joining) plan {
	t.Helper()
	bal := copartition.Balancer()
	members := make([]kmsg.JoinGroupResponseMember, 0, len(group))
	for _, j := range group {
		topics := j.topics
		if topics == nil {
			topics = []string{commands, orders}
		}
		owned := make(assignment, len(j.owned))
		for topic, ps := range j.owned {
			owned[topic] = slices.Clone(ps)
		}
		m := kmsg.NewJoinGroupResponseMember()
		m.MemberID = j.id
		m.ProtocolMetadata = bal.JoinGroupMetadata(slices.Clone(topics), owned, j.gen)
		members = append(members, m)
	}
	cb, err := kgo.NewConsumerBalancer(bal.(kgo.ConsumerBalancerBalance), members)
	if err != nil {
		t.Fatalf("NewConsumerBalancer: %v", err)
	}
	into, err := cb.BalanceOrError(counts)
	if err != nil {
		t.Fatalf("balance: %v", err)
	}
	got := plan{}
	for _, a := range into.IntoSyncAssignment() {
		assigned, err := kgo.ParseConsumerSyncAssignment(a.MemberAssignment)
		if err != nil {
			t.Fatalf("member %s: %v", a.MemberID, err)
		}
		got[a.MemberID] = assigned
	}
	return normalize(got)
}

// normalize drops topics without partitions, so that "nothing" compares
// equal however it is spelled.
func normalize(p plan) plan {
	out := plan{}
	for id, a := range p {
		out[id] = assignment{}
		for topic, ps := range a {
			if len(ps) > 0 {
				out[id][topic] = slices.Sorted(slices.Values(ps))
			}
		}
	}
	return out
}

// rejoin is the group after every member synced p: each owns what it was
// given, in the generation the plan was made for.
func rejoin(group []joining, p plan) []joining {
	var gen int32
	for _, j := range group {
		gen = max(gen, j.gen)
	}
	next := make([]joining, len(group))
	for i, j := range group {
		next[i] = joining{id: j.id, topics: j.topics, owned: p[j.id], gen: gen + 1}
	}
	return next
}

// checkNoOverlap asserts that no partition is planned for two members, and
// that none is planned for a member while another still owns it: a member
// only gets what it owns already or what nobody (validly) owns. A claim
// made at a lower generation than another claim on the same partition is
// stale and does not count, as in kgo's AdjustCooperative.
func checkNoOverlap(t *testing.T, group []joining, p plan) {
	t.Helper()
	holder := map[string]string{}
	for id, a := range p {
		for topic, ps := range a {
			for _, n := range ps {
				tp := fmt.Sprintf("%s/%d", topic, n)
				if other, ok := holder[tp]; ok {
					t.Errorf("%s planned for both %s and %s", tp, other, id)
				}
				holder[tp] = id
			}
		}
	}
	maxGen := map[string]int32{}
	for _, j := range group {
		for topic, ps := range j.owned {
			for _, n := range ps {
				tp := fmt.Sprintf("%s/%d", topic, n)
				if g, ok := maxGen[tp]; !ok || j.gen > g {
					maxGen[tp] = j.gen
				}
			}
		}
	}
	for _, j := range group {
		owns := map[string]bool{}
		for topic, ps := range j.owned {
			for _, n := range ps {
				owns[fmt.Sprintf("%s/%d", topic, n)] = j.gen >= maxGen[fmt.Sprintf("%s/%d", topic, n)]
			}
		}
		for topic, ps := range p[j.id] {
			for _, n := range ps {
				tp := fmt.Sprintf("%s/%d", topic, n)
				if _, claimed := maxGen[tp]; claimed && !owns[tp] {
					t.Errorf("%s planned for %s while another member still owns it", tp, j.id)
				}
			}
		}
	}
}

// checkComplete asserts that every partition of every topic some member
// subscribes is planned for a member subscribing to it.
func checkComplete(t *testing.T, counts map[string]int32, group []joining, p plan) {
	t.Helper()
	subscribed := map[string]map[string]bool{}
	for _, j := range group {
		subscribed[j.id] = map[string]bool{}
		topics := j.topics
		if topics == nil {
			topics = []string{orders, commands}
		}
		for _, topic := range topics {
			subscribed[j.id][topic] = true
		}
	}
	for topic, n := range counts {
		var anyone bool
		for _, j := range group {
			anyone = anyone || subscribed[j.id][topic]
		}
		for partition := range n {
			var holders []string
			for id, a := range p {
				if slices.Contains(a[topic], partition) {
					holders = append(holders, id)
					if !subscribed[id][topic] {
						t.Errorf("%s/%d planned for %s, which does not subscribe to it", topic, partition, id)
					}
				}
			}
			if anyone && len(holders) != 1 {
				t.Errorf("%s/%d planned for %v, want exactly one member", topic, partition, holders)
			}
			if !anyone && len(holders) != 0 {
				t.Errorf("%s/%d, which nobody subscribes, planned for %v", topic, partition, holders)
			}
		}
	}
}

func TestBalance(t *testing.T) {
	for _, tc := range []struct {
		name   string
		counts map[string]int32
		group  []joining
		// first is the plan of the rebalance; settled is the plan of the
		// follow-up rebalance (after every member synced first and the
		// members that lost partitions rejoined), nil if it is first.
		first, settled plan
	}{
		{
			name:   "fresh group of one",
			counts: sixEach(),
			group:  []joining{{id: "a", gen: -1}},
			first:  plan{"a": at(0, 1, 2, 3, 4, 5)},
		},
		{
			name:   "fresh group of two",
			counts: sixEach(),
			group:  []joining{{id: "a", gen: -1}, {id: "b", gen: -1}},
			first:  plan{"a": at(0, 2, 4), "b": at(1, 3, 5)},
		},
		{
			name:   "fresh group of three",
			counts: sixEach(),
			group:  []joining{{id: "a", gen: -1}, {id: "b", gen: -1}, {id: "c", gen: -1}},
			first:  plan{"a": at(0, 3), "b": at(1, 4), "c": at(2, 5)},
		},
		{
			// Only indices 4 and 5 move, from a and b to c: the first
			// round takes them from their owners and gives c nothing,
			// a and b keep consuming 0, 1, 2 and 3 throughout.
			name:   "a member joins a group of two",
			counts: sixEach(),
			group: []joining{
				{id: "a", owned: at(0, 2, 4), gen: 4},
				{id: "b", owned: at(1, 3, 5), gen: 4},
				{id: "c", gen: -1},
			},
			first:   plan{"a": at(0, 2), "b": at(1, 3), "c": at()},
			settled: plan{"a": at(0, 2), "b": at(1, 3), "c": at(4, 5)},
		},
		{
			// c's indices 2 and 5 are nobody's: they are assigned at
			// once, and nothing a or b owns moves.
			name:   "a member leaves a group of three",
			counts: sixEach(),
			group: []joining{
				{id: "a", owned: at(0, 3), gen: 6},
				{id: "b", owned: at(1, 4), gen: 6},
			},
			first: plan{"a": at(0, 2, 3), "b": at(1, 4, 5)},
		},
		{
			// a comes back claiming what it owned in generation 3;
			// b has owned everything since generation 7. b's claim
			// wins, so a's indices are a move: a gets them only
			// after b revokes them.
			name:   "a stale claim loses to a newer one",
			counts: sixEach(),
			group: []joining{
				{id: "a", owned: at(0, 1, 2), gen: 3},
				{id: "b", owned: at(0, 1, 2, 3, 4, 5), gen: 7},
			},
			first:   plan{"a": at(), "b": at(0, 1, 2)},
			settled: plan{"a": at(3, 4, 5), "b": at(0, 1, 2)},
		},
		{
			// Index 2 is claimed by a in orders and by b in commands at
			// the same generation: a owns the index (member order
			// breaks the tie), and b's commands/2 moves to a through a
			// revoke, while a keeps orders/2.
			name:   "owning part of an index's topics is owning the index",
			counts: sixEach(),
			group: []joining{
				{id: "a", owned: assignment{orders: {0, 1, 2}, commands: {0, 1}}, gen: 5},
				{id: "b", owned: assignment{orders: {3, 4, 5}, commands: {2, 3, 4, 5}}, gen: 5},
			},
			first:   plan{"a": assignment{orders: {0, 1, 2}, commands: {0, 1}}, "b": at(3, 4, 5)},
			settled: plan{"a": at(0, 1, 2), "b": at(3, 4, 5)},
		},
		{
			name:   "seven indices over three fresh members",
			counts: map[string]int32{orders: 7, commands: 7},
			group:  []joining{{id: "a", gen: -1}, {id: "b", gen: -1}, {id: "c", gen: -1}},
			first:  plan{"a": at(0, 3, 6), "b": at(1, 4), "c": at(2, 5)},
		},
		{
			// 7 over 3 is 3, 2, 2: the 3 goes to a, which keeps the
			// most, so only one of a's and one of b's indices move.
			name:   "seven indices, a member joins",
			counts: map[string]int32{orders: 7, commands: 7},
			group: []joining{
				{id: "a", owned: at(0, 1, 2, 3), gen: 2},
				{id: "b", owned: at(4, 5, 6), gen: 2},
				{id: "c", gen: -1},
			},
			first:   plan{"a": at(0, 1, 2), "b": at(4, 5), "c": at()},
			settled: plan{"a": at(0, 1, 2), "b": at(4, 5), "c": at(3, 6)},
		},
		{
			// Indices 4 and 5 exist in orders only.
			name:   "topics with different partition counts",
			counts: map[string]int32{orders: 6, commands: 4},
			group:  []joining{{id: "a", gen: -1}, {id: "b", gen: -1}},
			first: plan{
				"a": assignment{orders: {0, 2, 4}, commands: {0, 2}},
				"b": assignment{orders: {1, 3, 5}, commands: {1, 3}},
			},
		},
		{
			// b still runs a version that does not read the commands
			// topic: giving it orders partitions would split products
			// between b (orders) and a (commands), so b idles until it
			// subscribes like the others.
			name:   "a member on fewer topics gets nothing",
			counts: sixEach(),
			group: []joining{
				{id: "a", gen: -1},
				{id: "b", topics: []string{orders}, gen: -1},
			},
			first: plan{"a": at(0, 1, 2, 3, 4, 5), "b": at()},
		},
		{
			name:   "members on disjoint topics each get theirs",
			counts: sixEach(),
			group: []joining{
				{id: "a", topics: []string{orders}, gen: -1},
				{id: "b", topics: []string{commands}, gen: -1},
			},
			first: plan{
				"a": assignment{orders: {0, 1, 2, 3, 4, 5}},
				"b": assignment{commands: {0, 1, 2, 3, 4, 5}},
			},
		},
		{
			// The leader knows partitions of a topic nobody reads, and
			// a reads a topic whose partitions the leader does not
			// know (metadata not loaded): neither is balanced.
			name:   "topics nobody subscribes, or of unknown size, are skipped",
			counts: map[string]int32{orders: 6, commands: 6, "orderflow.other": 3},
			group: []joining{
				{id: "a", topics: []string{commands, orders, "orderflow.unknown"}, gen: -1},
				{id: "b", gen: -1},
			},
			first: plan{"a": at(0, 2, 4), "b": at(1, 3, 5)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := balance(t, tc.counts, tc.group)
			if !reflect.DeepEqual(first, normalize(tc.first)) {
				t.Fatalf("first rebalance:\n got %v\nwant %v", first, normalize(tc.first))
			}
			checkNoOverlap(t, tc.group, first)

			want := tc.settled
			if want == nil {
				want = tc.first
			}
			next := rejoin(tc.group, first)
			settled := balance(t, tc.counts, next)
			if !reflect.DeepEqual(settled, normalize(want)) {
				t.Fatalf("follow-up rebalance:\n got %v\nwant %v", settled, normalize(want))
			}
			checkNoOverlap(t, next, settled)
			checkComplete(t, tc.counts, next, settled)

			// Settled is settled: one more rebalance moves nothing.
			again := balance(t, tc.counts, rejoin(next, settled))
			if !reflect.DeepEqual(again, settled) {
				t.Fatalf("a rebalance of the settled group moved partitions:\n got %v\nwant %v", again, settled)
			}
		})
	}
}

// TestBalanceIgnoresMemberOrder: the plan depends on the members, not on
// the order the coordinator lists them in.
func TestBalanceIgnoresMemberOrder(t *testing.T) {
	group := []joining{
		{id: "a", owned: at(0, 1, 2, 3), gen: 2},
		{id: "b", owned: at(4, 5, 6), gen: 2},
		{id: "c", gen: -1},
		{id: "d", gen: -1},
	}
	counts := map[string]int32{orders: 7, commands: 7}
	want := balance(t, counts, group)
	reversed := slices.Clone(group)
	slices.Reverse(reversed)
	if got := balance(t, counts, reversed); !reflect.DeepEqual(got, want) {
		t.Fatalf("members listed in reverse:\n got %v\nwant %v", got, want)
	}
}

func TestJoinGroupMetadata(t *testing.T) {
	bal := copartition.Balancer()
	if bal.ProtocolName() != copartition.Protocol || !bal.IsCooperative() {
		t.Fatalf("protocol %q, cooperative %v; want %q, true", bal.ProtocolName(), bal.IsCooperative(), copartition.Protocol)
	}

	owned := func() assignment {
		return assignment{orders: {5, 1, 3}, commands: {3, 5, 1}, "orderflow.gone": {}}
	}
	encoded := bal.JoinGroupMetadata([]string{orders, commands}, owned(), 9)
	// Map order is random: the same state must encode to the same bytes
	// every time, or the coordinator sees a change where there is none.
	for range 20 {
		if again := bal.JoinGroupMetadata([]string{orders, commands}, owned(), 9); !slices.Equal(again, encoded) {
			t.Fatal("JoinGroupMetadata encodes one state two ways")
		}
	}

	var meta kmsg.ConsumerMemberMetadata
	if err := meta.ReadFrom(encoded); err != nil {
		t.Fatal(err)
	}
	if meta.Version != 3 || meta.Generation != 9 {
		t.Errorf("version %d generation %d, want 3 and 9", meta.Version, meta.Generation)
	}
	if want := []string{commands, orders}; !slices.Equal(meta.Topics, want) {
		t.Errorf("topics %v, want %v", meta.Topics, want)
	}
	got := map[string][]int32{}
	var order []string
	for _, op := range meta.OwnedPartitions {
		got[op.Topic] = op.Partitions
		order = append(order, op.Topic)
	}
	if want := (assignment{orders: {1, 3, 5}, commands: {1, 3, 5}}); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("owned %v, want %v", got, want)
	}
	if !slices.IsSorted(order) {
		t.Errorf("owned topics in order %v, want sorted", order)
	}

	empty := kmsg.NewConsumerMemberAssignment()
	parsed, err := bal.ParseSyncAssignment(empty.AppendTo(nil))
	if err != nil || len(parsed) != 0 {
		t.Errorf("ParseSyncAssignment of an empty assignment: %v, %v", parsed, err)
	}
}
