package kafkabus

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands"
)

// CausalStages are the families in the order their events cause one
// another (the catalog and the customers, then orders and payments, then
// the checks and inventory, then notifications); every family is in one
// stage. A copy that takes each stage up to its end before the next holds
// a cause before what it caused, as the read models expect (a result for
// an order the log does not hold yet would stop the orders read model).
func CausalStages() [][]string {
	return [][]string{
		{commands.ContextCatalog, commands.ContextCustomers},
		{commands.ContextOrders, commands.ContextPayments},
		{commands.ContextInventory, commands.ContextFraud, commands.ContextCustomerCheck},
		{commands.ContextNotifications},
	}
}

// firstCopy is a replica's first catch-up: what the topics held when it
// started, imported before the process says it is ready. A causal
// replica takes it stage by stage (CausalStages), each up to where its
// topics ended, as `orderflow replay` copies: the causes are then in the
// log before what they caused without looking each one up, and no
// partition waits for a cause on another topic that a fetch has not
// reached yet. What comes beyond those ends is held back (its partition
// paused) until the first copy is done, then imported cause first, as any
// record after it.
type firstCopy struct {
	stages [][]string                 // topics, in the order they are taken
	ends   map[string]map[int32]int64 // where each partition ended at the start
	stage  int                        // the stage being taken; the earlier ones are at their ends
}

// newFirstCopy lists where the replica's topics end, retrying while the
// broker is out of reach, and pauses the topics of every stage but the
// first. The ends are listed from the last stage to the first: a record
// below its topic's end was committed before that listing, and so was its
// cause, which an earlier stage's listing, made after, finds below its
// end. Nothing the first copy takes waits for a cause beyond it.
func (r *Replica) newFirstCopy(ctx context.Context) (*firstCopy, error) {
	fc := &firstCopy{stages: replicaStages(r.families, r.Causal), ends: map[string]map[int32]int64{}}
	for i := len(fc.stages) - 1; i >= 0; i-- {
		if len(fc.stages[i]) == 0 {
			continue
		}
		ends, err := retryUnavailable(ctx, r.log, func() (kadm.ListedOffsets, error) {
			return endOffsets(ctx, r.cl, fc.stages[i]...)
		})
		if err != nil {
			return nil, err
		}
		ends.Each(func(o kadm.ListedOffset) {
			if fc.ends[o.Topic] == nil {
				fc.ends[o.Topic] = map[int32]int64{}
			}
			fc.ends[o.Topic][o.Partition] = o.Offset
		})
	}
	for _, later := range fc.stages[1:] {
		r.cl.PauseFetchTopics(later...)
	}
	return fc, nil
}

// replicaStages are the topics of the families a replica copies, in
// stages: one with all of them, or, causal, the families' CausalStages
// (a family in none of them comes last).
func replicaStages(families []string, causal bool) [][]string {
	if !causal {
		var all []string
		for _, f := range families {
			all = append(all, FamilyTopic(f))
		}
		return [][]string{all}
	}
	var out [][]string
	staged := map[string]bool{}
	for _, stage := range CausalStages() {
		var topics []string
		for _, f := range stage {
			staged[f] = true
			if slices.Contains(families, f) {
				topics = append(topics, FamilyTopic(f))
			}
		}
		if len(topics) > 0 {
			out = append(out, topics)
		}
	}
	var rest []string
	for _, f := range families {
		if !staged[f] {
			rest = append(rest, FamilyTopic(f))
		}
	}
	if len(rest) > 0 || len(out) == 0 {
		out = append(out, rest)
	}
	return out
}

// waits says a record is not taken yet: its topic's stage has not
// begun, or it lies beyond where its partition ended at the start.
func (fc *firstCopy) waits(rec *kgo.Record) bool {
	for i, stage := range fc.stages {
		if slices.Contains(stage, rec.Topic) {
			return i > fc.stage || rec.Offset >= fc.ends[rec.Topic][rec.Partition]
		}
	}
	return false
}

// behind counts the records (and transaction markers) of the topics
// that the copy has not reached yet of what they held at the start.
func (fc *firstCopy) behind(next map[string]map[int32]int64, topics []string) int64 {
	var n int64
	for _, topic := range topics {
		for p, end := range fc.ends[topic] {
			if d := end - next[topic][p]; d > 0 {
				n += d
			}
		}
	}
	return n
}

// advance moves to the next stage once the current one is at its ends,
// resuming its topics, and says whether the first copy is done. Called
// with r.mu held.
func (r *Replica) advance() bool {
	fc := r.first
	for fc.stage < len(fc.stages) && fc.behind(r.next, fc.stages[fc.stage]) == 0 {
		fc.stage++
		if fc.stage < len(fc.stages) {
			r.cl.ResumeFetchTopics(fc.stages[fc.stage]...)
		}
	}
	return fc.stage == len(fc.stages)
}

// finishFirstCopy ends the first copy once it is done: records held
// back beyond the ends are taken from the next poll on, causes first.
func (r *Replica) finishFirstCopy() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first == nil || !r.advance() {
		return
	}
	r.log.Info("kafka replica: first copy of the topics done", "families", r.families,
		"took", time.Since(r.firstSince).Round(time.Millisecond))
	r.first = nil
	r.copiedHead = r.store.DB().Head()
	close(r.copied)
}

// Copied is closed once the first copy is done.
func (r *Replica) Copied() <-chan struct{} { return r.copied }

// CopiedUpTo is the position of the log's head when the first copy was
// done, and whether it is: what a read model must have applied before
// it answers from the history the topics held.
func (r *Replica) CopiedUpTo() (int64, bool) {
	select {
	case <-r.copied:
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.copiedHead, true
	default:
		return 0, false
	}
}

// FirstCopy says whether the first copy is done: nil once the log holds
// everything the topics held when the replica started, else what is left.
// A process is not ready before (its read models would answer from part
// of the history).
func (r *Replica) FirstCopy() error {
	select {
	case <-r.copied:
		return nil
	default:
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first == nil {
		return fmt.Errorf("kafka replica: copying the topics into the log has not begun")
	}
	var all []string
	for _, stage := range r.first.stages {
		all = append(all, stage...)
	}
	return fmt.Errorf("kafka replica: copying the topics into the log, stage %d of %d, %d records behind",
		r.first.stage+1, len(r.first.stages), r.first.behind(r.next, all))
}
