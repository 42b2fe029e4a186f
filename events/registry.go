package events

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// Payload is implemented by every domain event type: it names itself.
type Payload interface {
	EventType() string
}

// Registry maps stored event types to Go payload types and back.
type Registry struct {
	types map[string]reflect.Type
}

// NewRegistry returns a registry knowing the given payload types.
func NewRegistry(payloads ...Payload) *Registry {
	r := &Registry{types: make(map[string]reflect.Type)}
	for _, p := range payloads {
		t := reflect.TypeOf(p)
		name := p.EventType()
		if prev, ok := r.types[name]; ok && prev != t {
			panic(fmt.Sprintf("events: type %q registered for both %v and %v", name, prev, t))
		}
		r.types[name] = t
	}
	return r
}

// Encode turns payloads into events ready to append, stamped with metadata.
func (r *Registry) Encode(md Metadata, payloads ...Payload) ([]Event, error) {
	out := make([]Event, 0, len(payloads))
	for _, p := range payloads {
		if _, ok := r.types[p.EventType()]; !ok {
			return nil, fmt.Errorf("encode: event type %q is not registered", p.EventType())
		}
		data, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", p.EventType(), err)
		}
		out = append(out, Event{
			Type:          p.EventType(),
			SchemaVersion: 1,
			Data:          data,
			CorrelationID: md.CorrelationID,
			CausationID:   md.CausationID,
		})
	}
	return out, nil
}

// Decode returns the payload of a stored event as its registered Go type
// (a value, not a pointer, so callers can switch on it).
func (r *Registry) Decode(e Event) (Payload, error) {
	t, ok := r.types[e.Type]
	if !ok {
		return nil, fmt.Errorf("decode event %d: unknown type %q", e.Position, e.Type)
	}
	ptr := reflect.New(t)
	if err := json.Unmarshal(e.Data, ptr.Interface()); err != nil {
		return nil, fmt.Errorf("decode %s (position %d): %w", e.Type, e.Position, err)
	}
	return ptr.Elem().Interface().(Payload), nil
}

// Knows reports whether the event type is registered.
func (r *Registry) Knows(eventType string) bool {
	_, ok := r.types[eventType]
	return ok
}
