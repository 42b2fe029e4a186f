package kafkabus

import (
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kgo"
)

// keyMetadata names the message metadata that holds a record's key.
const keyMetadata = "orderflow_key"

// uuidHeader carried a message's watermill id in records of the versions
// before CloudEvents (as watermill-kafka's marshaler names it); ce_id
// carries it now.
const uuidHeader = "_watermill_message_uuid"

// Publisher is the watermill Publisher every record of orderflow goes out
// through, over a franz-go client: keyed by keyMetadata with the one
// partitioner of every orderflow producer (keyPartitioner, so one key lands
// in the same partition of each topic), acknowledged by all in-sync
// replicas, idempotent (a retried batch is written once, in order).
//
// We use it instead of watermill-kafka's publisher (over sarama, which
// sends one message at a time and waits for its answer) because that one
// can neither batch nor join a transaction: here a Publish of many
// messages hands them all to the client at once, which packs them into a
// few produce requests, and a transactional feed's Publisher produces into
// the consumer group's open transaction.
//
// Publish returns once Kafka acknowledged every message (the error of the
// first that failed, else nil); one key's messages are written in the
// order given. A transactional Publisher (see newTxPublisher) only hands
// the records to the transaction instead: they are flushed and committed,
// or aborted, when the feed ends it, and the first produce error is kept
// for the feed (Err), which then aborts.
type Publisher struct {
	cl *kgo.Client
	// tx says the client is the transactional client of a feed, which owns
	// it (Close leaves it open).
	tx bool

	mu  sync.Mutex
	err error
}

var _ message.Publisher = (*Publisher)(nil)

// NewPublisher returns the publisher of a process's relay, command sender
// and replies.
func NewPublisher(cluster Cluster) (*Publisher, error) {
	cl, err := newClient(cluster,
		kgo.ClientID("orderflow"),
		kgo.RecordPartitioner(keyPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// A relay hands over a batch of the log at once and waits for all
		// of it: what accumulates while a produce request is in flight goes
		// in the next one, so lingering would only add latency.
		kgo.ProducerLinger(0),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka publisher for %s: %w", cluster, err)
	}
	return &Publisher{cl: cl}, nil
}

// newTxPublisher is a Publisher into the open transaction of a consumer
// group's transactional client.
func newTxPublisher(cl *kgo.Client) *Publisher { return &Publisher{cl: cl, tx: true} }

// Publish produces msgs to topic (see Publisher).
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	if p.tx {
		for _, msg := range msgs {
			p.cl.Produce(msg.Context(), record(topic, msg), func(r *kgo.Record, err error) {
				if err != nil {
					p.fail(fmt.Errorf("produce to %s: %w", r.Topic, err))
				}
			})
		}
		return nil
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	wg.Add(len(msgs))
	for _, msg := range msgs {
		p.cl.Produce(msg.Context(), record(topic, msg), func(r *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("produce to %s: %w", r.Topic, err)
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	return first
}

// record is the Kafka record of a message: its payload as the value, its
// id as the ce_id header and its metadata (the other CloudEvents
// attributes, see wire.go) as headers; the key metadata is the record's
// key, not a header.
func record(topic string, msg *message.Message) *kgo.Record {
	rec := &kgo.Record{Topic: topic, Key: []byte(msg.Metadata.Get(keyMetadata)), Value: msg.Payload,
		Headers: make([]kgo.RecordHeader, 0, 1+len(msg.Metadata))}
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: ceID, Value: []byte(msg.UUID)})
	for k, v := range msg.Metadata {
		if k != keyMetadata && k != ceID {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
	}
	return rec
}

func (p *Publisher) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

// Err is, for a transactional Publisher, the first produce error since the
// last call, which resets it.
func (p *Publisher) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.err
	p.err = nil
	return err
}

// Close closes the client, unless it belongs to a feed, which closes it.
// Records not yet acknowledged are given up: a relay moves its cursor only
// past acknowledged ones.
func (p *Publisher) Close() error {
	if !p.tx {
		p.cl.Close()
	}
	return nil
}
