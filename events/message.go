package events

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Metadata keys of a bus message carrying a stored event.
const (
	metaPosition      = "position"
	metaStreamID      = "stream_id"
	metaStreamVersion = "stream_version"
	metaType          = "type"
	metaSchemaVersion = "schema_version"
	metaOccurredAt    = "occurred_at"
	metaCorrelationID = "correlation_id"
	metaCausationID   = "causation_id"
	// MetaPartitionKey is the key a partitioned transport orders by: the
	// stream id, so one aggregate's events stay in order.
	MetaPartitionKey = "partition_key"
)

// TopicPrefix starts every topic name.
const TopicPrefix = "orderflow."

// Family is the stream kind of a stream id: order-42 → order.
func Family(streamID string) string {
	family, _, _ := strings.Cut(streamID, "-")
	return family
}

// Partition is the partition of a key (a stream id, or a consumer's routing
// key) among n: everything with one key lands in one partition, so it is
// handled in order, while different keys are handled in parallel.
func Partition(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// PartitionTopic is the in-process bus topic of one partition of an event
// family (orderflow.order.3). A partitioned transport such as Kafka uses the
// family topic and the partition key instead.
func PartitionTopic(family string, partition int) string {
	return TopicPrefix + family + "." + strconv.Itoa(partition)
}

// ToMessage wraps a stored event for the bus. The message id is the event
// id, so consumers can recognise a redelivery.
func ToMessage(e Event) *message.Message {
	msg := message.NewMessage(e.ID, message.Payload(e.Data))
	msg.Metadata.Set(metaPosition, strconv.FormatInt(e.Position, 10))
	msg.Metadata.Set(metaStreamID, e.StreamID)
	msg.Metadata.Set(metaStreamVersion, strconv.FormatInt(e.StreamVersion, 10))
	msg.Metadata.Set(metaType, e.Type)
	msg.Metadata.Set(metaSchemaVersion, strconv.Itoa(e.SchemaVersion))
	msg.Metadata.Set(metaOccurredAt, e.OccurredAt.Format(time.RFC3339Nano))
	msg.Metadata.Set(metaCorrelationID, e.CorrelationID)
	msg.Metadata.Set(metaCausationID, e.CausationID)
	msg.Metadata.Set(MetaPartitionKey, e.StreamID)
	return msg
}

// FromMessage unwraps a bus message back into the stored event.
func FromMessage(msg *message.Message) (Event, error) {
	e := Event{
		ID:            msg.UUID,
		StreamID:      msg.Metadata.Get(metaStreamID),
		Type:          msg.Metadata.Get(metaType),
		CorrelationID: msg.Metadata.Get(metaCorrelationID),
		CausationID:   msg.Metadata.Get(metaCausationID),
		Data:          append([]byte(nil), msg.Payload...),
	}
	var err error
	if e.Position, err = strconv.ParseInt(msg.Metadata.Get(metaPosition), 10, 64); err != nil {
		return Event{}, fmt.Errorf("message %s: bad position: %w", msg.UUID, err)
	}
	if e.StreamVersion, err = strconv.ParseInt(msg.Metadata.Get(metaStreamVersion), 10, 64); err != nil {
		return Event{}, fmt.Errorf("message %s: bad stream version: %w", msg.UUID, err)
	}
	if e.SchemaVersion, err = strconv.Atoi(msg.Metadata.Get(metaSchemaVersion)); err != nil {
		return Event{}, fmt.Errorf("message %s: bad schema version: %w", msg.UUID, err)
	}
	if e.OccurredAt, err = time.Parse(time.RFC3339Nano, msg.Metadata.Get(metaOccurredAt)); err != nil {
		return Event{}, fmt.Errorf("message %s: bad occurred_at: %w", msg.UUID, err)
	}
	return e, nil
}
