package events

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Personal describes the personal data in an event type: the JSON fields
// that hold it and the field naming whose it is (the subject). The registry
// stores those fields sealed, AES-256-GCM under the subject's key, in one
// field named sealedField, and leaves them blank in the clear. Deleting the
// key (Keyring.Forget) makes them unreadable everywhere the event was
// copied: in the log, in backups, in Kafka topics.
type Personal struct {
	Subject string   // JSON name of the field holding the subject's id
	Prefix  string   // the subject is Prefix + that id ("customer-")
	Fields  []string // JSON names of the personal fields, all strings
}

// sealedField holds an event's personal fields, sealed.
const sealedField = "sealed"

// UseKeys makes the registry seal personal fields under the keyring's keys
// when it encodes, and open them when it decodes. Without a keyring an
// event with personal fields cannot be encoded (they are never stored in
// the clear), and sealed fields decode blank.
func (r *Registry) UseKeys(k *Keyring) { r.keys = k }

// Keys is the keyring in use, nil when none.
func (r *Registry) Keys() *Keyring { return r.keys }

// PersonalTypes lists the registered types that carry personal data.
func (r *Registry) PersonalTypes() []Type {
	var out []Type
	for _, t := range r.Types() {
		if t.Personal != nil {
			out = append(out, t)
		}
	}
	return out
}

func (p *Personal) subjectOf(obj map[string]json.RawMessage) (string, error) {
	var id string
	if err := json.Unmarshal(obj[p.Subject], &id); err != nil || id == "" {
		return "", fmt.Errorf("personal data without a subject (field %q)", p.Subject)
	}
	return p.Prefix + id, nil
}

func (r *Registry) seal(t *Type, data []byte) ([]byte, error) {
	if r.keys == nil {
		return nil, errors.New("personal data cannot be stored: no keyring to seal it with")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	subject, err := t.Personal.subjectOf(obj)
	if err != nil {
		return nil, err
	}
	fields := map[string]json.RawMessage{}
	for _, f := range t.Personal.Fields {
		fields[f] = obj[f]
		obj[f] = json.RawMessage(`""`)
	}
	plain, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	key, err := r.keys.KeyFor(subject)
	if err != nil {
		return nil, err
	}
	sealed, err := sealBytes(key, plain, aad(t.Name, subject))
	if err != nil {
		return nil, err
	}
	obj[sealedField], _ = json.Marshal(base64.StdEncoding.EncodeToString(sealed))
	return json.Marshal(obj)
}

// open returns the event's JSON with its personal fields in the clear,
// or blank when the subject was forgotten (or there is no keyring). An
// event without a sealed field (written before sealing, or blanked by an
// erasure) is returned as it is.
func (r *Registry) open(t *Type, data []byte) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	raw, ok := obj[sealedField]
	if !ok {
		return data, nil
	}
	delete(obj, sealedField)
	if r.keys != nil {
		subject, err := t.Personal.subjectOf(obj)
		if err != nil {
			return nil, err
		}
		key, err := r.keys.Key(subject)
		switch {
		case errors.Is(err, ErrForgotten):
		case err != nil:
			return nil, fmt.Errorf("open the personal fields of %s: %w", subject, err)
		default:
			var b64 string
			if err := json.Unmarshal(raw, &b64); err != nil {
				return nil, fmt.Errorf("sealed field: %w", err)
			}
			sealed, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return nil, fmt.Errorf("sealed field: %w", err)
			}
			plain, err := openBytes(key, sealed, aad(t.Name, subject))
			if err != nil {
				return nil, fmt.Errorf("open the personal fields of %s: %w", subject, err)
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(plain, &fields); err != nil {
				return nil, err
			}
			for _, f := range t.Personal.Fields {
				if v, ok := fields[f]; ok {
					obj[f] = v
				}
			}
		}
	}
	return json.Marshal(obj)
}

// aad binds a sealed value to its event type and subject: it cannot be
// moved into another subject's event and opened with that key.
func aad(typ, subject string) []byte { return []byte(typ + "\x00" + subject) }

func sealBytes(key, plain, additional []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, additional), nil
}

func openBytes(key, sealed, additional []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("sealed value too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], additional)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// PlaintextEvents finds the events about a subject that hold personal
// fields in the clear: written before they were sealed (an older schema
// version). It reads, without holding the writer; what it finds stays
// valid, since nothing in the clear is written any more.
func (r *Registry) PlaintextEvents(ctx context.Context, db *DB, subject string) ([]Event, error) {
	// One scan of the log per way of naming the subject (every type that
	// names it by the same field shares it).
	type naming struct{ field, id string }
	types := map[naming][]any{}
	var order []naming
	for _, t := range r.PersonalTypes() {
		id, ok := strings.CutPrefix(subject, t.Personal.Prefix)
		if !ok {
			continue
		}
		n := naming{t.Personal.Subject, id}
		if _, seen := types[n]; !seen {
			order = append(order, n)
		}
		types[n] = append(types[n], t.Name)
	}
	var out []Event
	for _, n := range order {
		in := strings.Repeat("?, ", len(types[n])-1) + "?"
		args := append(append([]any{}, types[n]...), n.field, n.id, sealedField)
		rows, err := db.read.QueryContext(ctx, `SELECT position, stream_id, type, schema_version, data FROM events
			WHERE type IN (`+in+`) AND json_extract(data, '$.'||?) = ? AND json_extract(data, '$.'||?) IS NULL
			ORDER BY position`, args...)
		if err != nil {
			return nil, fmt.Errorf("find the events of %s in the clear: %w", subject, err)
		}
		for rows.Next() {
			var e Event
			var data string
			if err := rows.Scan(&e.Position, &e.StreamID, &e.Type, &e.SchemaVersion, &data); err != nil {
				rows.Close()
				return nil, err
			}
			e.Data = json.RawMessage(data)
			out = append(out, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// BlankInPlace overwrites the personal fields of events stored in the
// clear (see PlaintextEvents) with blanks, inside the erasure's write
// transaction: the single exception to immutable events, allowed by the
// database only while the erasure marks each stream (erasing_subjects).
// Envelopes, and every other field, stay as they were.
func (r *Registry) BlankInPlace(tx *sql.Tx, evs []Event) error {
	for _, e := range evs {
		t, ok := r.types[e.Type]
		if !ok || t.Personal == nil {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(e.Data, &obj); err != nil {
			return fmt.Errorf("blank event %d: %w", e.Position, err)
		}
		for _, f := range t.Personal.Fields {
			if _, ok := obj[f]; ok {
				obj[f] = json.RawMessage(`""`)
			}
		}
		blank, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO erasing_subjects (stream_id) VALUES (?) ON CONFLICT DO NOTHING`, e.StreamID); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE events SET data = ? WHERE position = ?`, string(blank), e.Position); err != nil {
			return fmt.Errorf("blank event %d: %w", e.Position, err)
		}
	}
	_, err := tx.Exec(`DELETE FROM erasing_subjects`)
	return err
}
