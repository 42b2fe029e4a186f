// Package copartition owns the consumer-group balancer that keeps a group's
// topics co-partitioned: partition n of every topic the group consumes
// belongs to one member, so a key (a product, an order) is handled by one
// member on all of its inputs. It rebalances cooperatively (KIP-429): a join
// or a leave pauses only the partitions that move, and a partition that
// moves is first revoked by its owner and only then, in the rebalance that
// follows, assigned to its new owner.
package copartition

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Protocol is the name the balancer joins groups under. The coordinator
// forms a group only on a protocol every member offers, so moving a group
// from range to this balancer takes two rolling deploys, as KIP-429
// describes: one where members offer both, one where they offer only this.
const Protocol = "orderflow-copartitioned-cooperative"

// Balancer is the co-partitioning cooperative balancer, for
// kgo.Balancers(copartition.Balancer()).
//
// The unit of assignment is a partition index n. The member that gets index
// n gets partition n of every topic it subscribes that has a partition n.
// Members keep the indices they own up to an even share (the floor or ceil
// of indices/members), the rest go to the members with the fewest. Which
// member owns an index is read from the members' claims (the
// OwnedPartitions of their join metadata): the claim made at the highest
// generation wins, as in kgo's BalancePlan.AdjustCooperative (KIP-792), and
// claiming some of an index's topics is claiming the index.
//
// Members that subscribe to different topics (a rolling deploy that adds a
// topic to a group) are handled so that co-partitioning holds among the
// topics the group consumes: an index goes only to members that subscribe
// to the most of its topics. Members on a smaller topic set get nothing
// until they subscribe like the others. A topic that no index owner
// subscribes (members with disjoint topic sets) goes to a member that
// subscribes it, preferring its last owner, then the least loaded. A topic
// no member subscribes is not assigned.
func Balancer() kgo.GroupBalancer {
	return balancer{}
}

// balancer is stateless: everything it decides is read from the members'
// join metadata, so any member elected leader balances alike.
type balancer struct{}

func (balancer) ProtocolName() string { return Protocol }

// IsCooperative is true: members keep consuming what they keep across a
// rebalance, and kgo revokes only what an assignment takes away.
func (balancer) IsCooperative() bool { return true }

// JoinGroupMetadata is a version 3 kmsg.ConsumerMemberMetadata, as kgo's
// cooperative sticky balancer sends: the topics, what the member owns now
// and the generation it owned it in. The output is sorted so that the same
// member state always encodes to the same bytes (the coordinator compares
// them to decide whether a rejoin changes anything).
func (balancer) JoinGroupMetadata(topics []string, current map[string][]int32, generation int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3
	meta.Topics = slices.Sorted(slices.Values(topics))
	meta.Generation = generation
	owned := make([]string, 0, len(current))
	for topic, partitions := range current {
		if len(partitions) > 0 {
			owned = append(owned, topic)
		}
	}
	slices.Sort(owned)
	for _, topic := range owned {
		op := kmsg.NewConsumerMemberMetadataOwnedPartition()
		op.Topic = topic
		op.Partitions = slices.Sorted(slices.Values(current[topic]))
		meta.OwnedPartitions = append(meta.OwnedPartitions, op)
	}
	return meta.AppendTo(nil)
}

func (balancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	return kgo.ParseConsumerSyncAssignment(assignment)
}

func (bal balancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	b, err := kgo.NewConsumerBalancer(bal, members)
	if err != nil {
		return nil, nil, err
	}
	return b, b.MemberTopics(), nil
}

// Balance assigns partition indices to members (see Balancer) and then
// withholds, with kgo's AdjustCooperative, every partition that moves from
// one member to another: the first round only takes it from its owner, and
// the owner's rejoin after revoking it starts the round that gives it to
// its new owner. No partition is ever held by two members.
func (balancer) Balance(b *kgo.ConsumerBalancer, partitions map[string]int32) kgo.IntoSyncAssignment {
	g := readGroup(b, partitions)
	owners := g.assignIndices()
	plan := b.NewPlan()
	g.fill(plan, owners)
	plan.AdjustCooperative(b)
	return plan
}
