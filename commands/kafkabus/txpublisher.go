package kafkabus

import (
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kgo"
)

// uuidHeader carries a message's watermill id, as watermill-kafka's
// marshaler names it, so a record reads the same whichever publisher wrote
// it.
const uuidHeader = "_watermill_message_uuid"

// txPublisher is a watermill Publisher that produces into the open
// transaction of a consumer group's transactional client: what a feed
// decided goes out as watermill messages, as everything orderflow
// publishes does, but all of a transaction or nothing. (watermill-kafka's
// publisher, over sarama, has no way to join a transaction.)
//
// Publish only hands the records to the client; they are flushed and
// committed, or aborted, when the feed ends the transaction. The first
// produce error is kept for the feed (Err), which then aborts.
type txPublisher struct {
	cl *kgo.Client

	mu  sync.Mutex
	err error
}

var _ message.Publisher = (*txPublisher)(nil)

func (p *txPublisher) Publish(topic string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		key := msg.Metadata.Get(keyMetadata)
		rec := &kgo.Record{Topic: topic, Key: []byte(key), Value: msg.Payload,
			Headers: []kgo.RecordHeader{{Key: uuidHeader, Value: []byte(msg.UUID)}}}
		for k, v := range msg.Metadata {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
		p.cl.Produce(msg.Context(), rec, func(r *kgo.Record, err error) {
			if err != nil {
				p.fail(fmt.Errorf("produce to %s: %w", r.Topic, err))
			}
		})
	}
	return nil
}

func (p *txPublisher) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

// Err is the first produce error since the last call, which resets it.
func (p *txPublisher) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.err
	p.err = nil
	return err
}

// Close does nothing: the client belongs to the feed, which closes it.
func (p *txPublisher) Close() error { return nil }
