package copartition

import (
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// member is one group member as the balance sees it.
type member struct {
	join   *kmsg.JoinGroupResponseMember
	order  int // place in the deterministic member order, the last tie-break
	gen    int32
	topics map[string]bool
	owned  map[string]map[int32]bool // what it claims, topic => partitions
}

// claim is a member's claim on a partition index, or on one partition.
type claim struct {
	m      *member // nil: nobody claims it
	gen    int32
	topics int // how many of the index's topics the member claims
}

// beats reports whether c is the better claim: the higher generation (a
// member that missed rebalances may still claim what has since moved on,
// KIP-792), then the more of the index's topics, then the member order.
func (c claim) beats(o claim) bool {
	switch {
	case o.m == nil:
		return true
	case c.gen != o.gen:
		return c.gen > o.gen
	case c.topics != o.topics:
		return c.topics > o.topics
	}
	return c.m.order < o.m.order
}

// group is what one balance works on: members in a fixed order, the
// topics to balance and the claims on their indices and partitions.
type group struct {
	members []*member
	topics  []string // subscribed by some member and with known partitions, sorted
	counts  map[string]int32
	indices int32      // the most partitions of any topic
	at      [][]string // by index, the topics that have that partition

	indexClaims []claim            // by index, the winning claim
	partClaims  map[string][]claim // by topic then partition, the winning claim
	coverage    []int              // by index, the most of its topics any member subscribes
}

func readGroup(b *kgo.ConsumerBalancer, counts map[string]int32) *group {
	g := &group{counts: make(map[string]int32)}
	for topic := range b.MemberTopics() {
		if n := counts[topic]; n > 0 {
			g.topics = append(g.topics, topic)
			g.counts[topic] = n
			g.indices = max(g.indices, n)
		}
	}
	slices.Sort(g.topics)

	b.EachMember(func(join *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		m := &member{join: join, gen: meta.Generation, topics: make(map[string]bool), owned: make(map[string]map[int32]bool)}
		for _, topic := range meta.Topics {
			m.topics[topic] = true
		}
		for _, op := range meta.OwnedPartitions {
			if m.owned[op.Topic] == nil {
				m.owned[op.Topic] = make(map[int32]bool)
			}
			for _, p := range op.Partitions {
				m.owned[op.Topic][p] = true
			}
		}
		g.members = append(g.members, m)
	})
	// kgo hands the leader its members sorted like this already; sorting
	// again keeps the balance deterministic for any caller.
	sort.SliceStable(g.members, func(i, j int) bool { return joinLess(g.members[i].join, g.members[j].join) })
	for i, m := range g.members {
		m.order = i
	}

	g.at = make([][]string, g.indices)
	for n := range g.indices {
		for _, topic := range g.topics {
			if n < g.counts[topic] {
				g.at[n] = append(g.at[n], topic)
			}
		}
	}
	g.indexClaims = make([]claim, g.indices)
	g.coverage = make([]int, g.indices)
	g.partClaims = make(map[string][]claim, len(g.topics))
	for _, topic := range g.topics {
		g.partClaims[topic] = make([]claim, g.counts[topic])
	}
	for n := range g.indices {
		for _, m := range g.members {
			var claimed int
			for _, topic := range g.at[n] {
				if !m.owned[topic][n] {
					continue
				}
				claimed++
				if c := (claim{m: m, gen: m.gen, topics: 1}); c.beats(g.partClaims[topic][n]) {
					g.partClaims[topic][n] = c
				}
			}
			if c := (claim{m: m, gen: m.gen, topics: claimed}); claimed > 0 && c.beats(g.indexClaims[n]) {
				g.indexClaims[n] = c
			}
			g.coverage[n] = max(g.coverage[n], g.covers(m, n))
		}
	}
	return g
}

// covers is how many of index n's topics m subscribes.
func (g *group) covers(m *member, n int32) int {
	var c int
	for _, topic := range g.at[n] {
		if m.topics[topic] {
			c++
		}
	}
	return c
}

// candidate reports whether m may own index n: it subscribes to as many of
// n's topics as any member does. With equal subscriptions every member is a
// candidate for every index.
func (g *group) candidate(m *member, n int32) bool {
	return g.coverage[n] > 0 && g.covers(m, n) == g.coverage[n]
}

// assignIndices returns the owner of each index: members keep what they
// own up to their quota, and the rest goes to the candidates with the
// fewest.
func (g *group) assignIndices() []*member {
	owners := make([]*member, g.indices)
	var eligible []*member
	for _, m := range g.members {
		for n := range g.indices {
			if g.candidate(m, n) {
				eligible = append(eligible, m)
				break
			}
		}
	}
	if len(eligible) == 0 {
		return owners
	}

	kept := make(map[*member][]int32)
	for n, c := range g.indexClaims {
		if c.m != nil && g.candidate(c.m, int32(n)) {
			kept[c.m] = append(kept[c.m], int32(n))
		}
	}
	quota := g.quotas(eligible, kept)
	assigned := make(map[*member]int)
	for _, m := range eligible {
		for _, n := range kept[m][:min(len(kept[m]), quota[m])] {
			owners[n] = m
			assigned[m]++
		}
	}
	for n := range g.indices {
		if owners[n] != nil {
			continue
		}
		if m := g.pickFree(n, assigned, quota); m != nil {
			owners[n] = m
			assigned[m]++
		}
	}
	return owners
}

// quotas gives every eligible member the floor of indices/members, and one
// more to as many as the division leaves over, first to those that keep
// the most (so that fewer indices move), then in member order.
func (g *group) quotas(eligible []*member, kept map[*member][]int32) map[*member]int {
	base, extra := int(g.indices)/len(eligible), int(g.indices)%len(eligible)
	byKept := slices.Clone(eligible)
	sort.SliceStable(byKept, func(i, j int) bool { return len(kept[byKept[i]]) > len(kept[byKept[j]]) })
	quota := make(map[*member]int, len(eligible))
	for i, m := range byKept {
		quota[m] = base
		if i < extra {
			quota[m]++
		}
	}
	return quota
}

// pickFree is the candidate for the free index n with the fewest indices,
// among those under quota if any are (they all are when members subscribe
// alike); ties go to the member order.
func (g *group) pickFree(n int32, assigned, quota map[*member]int) *member {
	var under, fewest *member
	for _, m := range g.members {
		if !g.candidate(m, n) {
			continue
		}
		if fewest == nil || assigned[m] < assigned[fewest] {
			fewest = m
		}
		if assigned[m] < quota[m] && (under == nil || assigned[m] < assigned[under]) {
			under = m
		}
	}
	if under != nil {
		return under
	}
	return fewest
}

// fill gives the owner of each index n partition n of every topic. A
// topic the owner does not subscribe goes to its last owner if that one
// subscribes it, else to its least loaded subscriber.
func (g *group) fill(plan *kgo.BalancePlan, owners []*member) {
	load := make(map[*member]int)
	for n := range g.indices {
		for _, topic := range g.at[n] {
			m := owners[n]
			if m == nil || !m.topics[topic] {
				m = g.topicOwner(topic, n, load)
			}
			plan.AddPartition(m.join, topic, n)
			load[m]++
		}
	}
}

func (g *group) topicOwner(topic string, n int32, load map[*member]int) *member {
	if c := g.partClaims[topic][n]; c.m != nil && c.m.topics[topic] {
		return c.m
	}
	var least *member
	for _, m := range g.members {
		if m.topics[topic] && (least == nil || load[m] < load[least]) {
			least = m
		}
	}
	return least // never nil: every balanced topic has a subscriber
}

// joinLess is kgo's order of group members: by instance ID where set
// (members with one first), then by member ID.
func joinLess(l, r *kmsg.JoinGroupResponseMember) bool {
	switch {
	case l.InstanceID != nil && r.InstanceID != nil:
		return *l.InstanceID < *r.InstanceID
	case l.InstanceID != nil:
		return true
	case r.InstanceID != nil:
		return false
	}
	return l.MemberID < r.MemberID
}
