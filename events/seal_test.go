package events_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"orderflow/events"
)

// signedUp is a payload with personal fields, as the customers context has.
type signedUp struct {
	PersonID string `json:"personId"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	Plan     string `json:"plan"`
}

func (signedUp) EventType() string { return "SignedUp" }

func personalRegistry(keys *events.Keyring) *events.Registry {
	reg := events.NewRegistry(events.Registration{
		Payload: signedUp{}, Version: 2,
		Upcasters: map[int]events.Upcaster{1: func(v1 json.RawMessage) (json.RawMessage, error) { return v1, nil }},
		Personal:  &events.Personal{Subject: "personId", Prefix: "person-", Fields: []string{"name", "email"}},
	})
	if keys != nil {
		reg.UseKeys(keys)
	}
	return reg
}

func TestSealedFieldsRoundTripAndAreShreddedWithTheKey(t *testing.T) {
	ctx := context.Background()
	s, path := openStore(t)
	keys := events.NewKeyring(s.DB())
	reg := personalRegistry(keys)
	ann := signedUp{PersonID: "p1", Name: "Annabel Quist", Email: "annabel@quist.example", Plan: "gold"}
	bob := signedUp{PersonID: "p2", Name: "Bob Other", Email: "bob@other.example", Plan: "free"}

	var stored []events.Event
	for _, p := range []signedUp{ann, bob} {
		evs, err := reg.Encode(events.Metadata{}, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, plain := range []string{p.Name, p.Email} {
			if bytes.Contains(evs[0].Data, []byte(plain)) {
				t.Fatalf("encoded %s holds %q in the clear", evs[0].Data, plain)
			}
		}
		if !bytes.Contains(evs[0].Data, []byte(`"plan":"`+p.Plan+`"`)) {
			t.Fatalf("encoded %s: the fields that are not personal stay in the clear", evs[0].Data)
		}
		out, err := s.Append(ctx, events.StreamAppend{StreamID: "person-" + p.PersonID, ExpectedVersion: 0, Events: evs})
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, out...)
	}

	decode := func(e events.Event) signedUp {
		t.Helper()
		p, err := reg.Decode(e)
		if err != nil {
			t.Fatal(err)
		}
		return p.(signedUp)
	}
	if got := decode(stored[0]); got != ann {
		t.Fatalf("decoded %+v, want %+v", got, ann)
	}

	// A sealed value moved into another subject's event does not open.
	var moved map[string]any
	json.Unmarshal(stored[0].Data, &moved)
	moved["personId"] = "p2"
	data, _ := json.Marshal(moved)
	if _, err := reg.Decode(events.Event{Type: "SignedUp", SchemaVersion: 2, Data: data}); err == nil {
		t.Fatal("ann's sealed fields opened as bob's")
	}

	if err := keys.Forget(ctx, "person-p1", nil); err != nil {
		t.Fatal(err)
	}
	if got, want := decode(stored[0]), (signedUp{PersonID: "p1", Plan: "gold"}); got != want {
		t.Fatalf("after forgetting: decoded %+v, want %+v", got, want)
	}
	if got := decode(stored[1]); got != bob {
		t.Fatalf("another subject: decoded %+v, want %+v", got, bob)
	}
	// A fresh keyring reads the table: still forgotten, and no new key.
	again := personalRegistry(events.NewKeyring(s.DB()))
	if p, err := again.Decode(stored[0]); err != nil || p.(signedUp).Name != "" {
		t.Fatalf("a fresh keyring decodes %+v, %v; want blank personal fields", p, err)
	}
	if _, err := again.Encode(events.Metadata{}, ann); !errors.Is(err, events.ErrForgotten) {
		t.Fatalf("encoding for a forgotten subject: %v, want ErrForgotten", err)
	}
	if gone, err := keys.Forgotten("person-p1"); !gone || err != nil {
		t.Fatalf("Forgotten = %v, %v", gone, err)
	}

	// Without a keyring nothing personal is ever stored in the clear.
	if _, err := personalRegistry(nil).Encode(events.Metadata{}, bob); err == nil {
		t.Fatal("encoded personal fields without a keyring")
	}
	// A subject this database has no key for (split: not arrived yet) is
	// an error, not blank fields that a read model would keep.
	other := events.NewStore(openDB(t))
	if _, err := personalRegistry(events.NewKeyring(other.DB())).Decode(stored[1]); !errors.Is(err, events.ErrKeyUnavailable) {
		t.Fatalf("decoding without the key: %v, want ErrKeyUnavailable", err)
	}

	if err := s.DB().Scrub(ctx); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() != 0 {
		t.Fatalf("after Scrub the WAL is %v (%v), want empty", fi.Size(), err)
	}
}

func openDB(t *testing.T) *events.DB {
	t.Helper()
	s, _ := openStore(t)
	return s.DB()
}

func TestPlaintextOfOlderVersionsIsBlankedInPlaceOnErasure(t *testing.T) {
	ctx := context.Background()
	s, path := openStore(t)
	keys := events.NewKeyring(s.DB())
	reg := personalRegistry(keys)
	old := `{"personId":"p1","name":"Cornelius Oldfield","email":"cornelius@oldfield.example","plan":"gold"}`
	stored, err := s.Append(ctx,
		events.StreamAppend{StreamID: "person-p1", ExpectedVersion: 0, Events: []events.Event{{Type: "SignedUp", SchemaVersion: 1, Data: json.RawMessage(old)}}},
		events.StreamAppend{StreamID: "person-p2", ExpectedVersion: 0, Events: []events.Event{{Type: "SignedUp", SchemaVersion: 1,
			Data: json.RawMessage(`{"personId":"p2","name":"Dora Keep","email":"dora@keep.example","plan":"free"}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	if stored[0].StreamID != "person-p1" { // appends are written in stream order
		stored[0], stored[1] = stored[1], stored[0]
	}
	if p, err := reg.Decode(stored[0]); err != nil || p.(signedUp).Name != "Cornelius Oldfield" {
		t.Fatalf("version 1 reads as %+v, %v", p, err)
	}

	// Events stay immutable outside an erasure.
	err = s.DB().Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE events SET data = '{}' WHERE position = ?`, stored[0].Position)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "immutable") {
		t.Fatalf("an update outside an erasure: %v, want refused", err)
	}

	plain, err := reg.PlaintextEvents(ctx, s.DB(), "person-p1")
	if err != nil || len(plain) != 1 || plain[0].Position != stored[0].Position {
		t.Fatalf("plaintext events of p1 = %+v, %v; want the one at %d", plain, err, stored[0].Position)
	}
	if err := keys.Forget(ctx, "person-p1", func(tx *sql.Tx) error { return reg.BlankInPlace(tx, plain) }); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ReadStream(ctx, "person-p1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(evs[0].Data), `{"email":"","name":"","personId":"p1","plan":"gold"}`; got != want {
		t.Fatalf("blanked in place: %s, want %s", got, want)
	}
	if evs[0].ID != stored[0].ID || evs[0].StreamVersion != 1 || evs[0].SchemaVersion != 1 || !evs[0].OccurredAt.Equal(stored[0].OccurredAt) {
		t.Fatalf("the envelope changed: %+v, was %+v", evs[0], stored[0])
	}
	if p, err := reg.Decode(stored[1]); err != nil || p.(signedUp).Name != "Dora Keep" {
		t.Fatalf("another subject's version 1 reads as %+v, %v", p, err)
	}
	// The envelope may never change, not even during an erasure.
	err = s.DB().Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO erasing_subjects (stream_id) VALUES ('person-p2')`); err != nil {
			return err
		}
		_, err := tx.Exec(`UPDATE events SET type = 'Other' WHERE stream_id = 'person-p2'`)
		return err
	})
	if err == nil {
		t.Fatal("an erasure changed an event's type")
	}

	if err := s.DB().Scrub(ctx); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, s := range []string{"Cornelius", "Oldfield", "cornelius@"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s still holds %q", path+suffix, s)
			}
		}
		if suffix == "" && !bytes.Contains(b, []byte("Dora Keep")) {
			t.Error("the database file does not hold another subject's data: the search cannot fail")
		}
	}
}

// TestBorrowedKeys is a split process's keyring: it makes no key of its
// own, opens what is sealed under a key it was given (Put), and a key given
// after the subject was forgotten here is not kept.
func TestBorrowedKeys(t *testing.T) {
	ctx := context.Background()
	owner, _ := openStore(t)
	ownerKeys := events.NewKeyring(owner.DB())
	var published []events.SubjectKey
	ownerKeys.Published = func(_ context.Context, subject string, key []byte) error {
		published = append(published, events.SubjectKey{Subject: subject, Key: key})
		return nil
	}
	sealed, err := personalRegistry(ownerKeys).Encode(events.Metadata{}, signedUp{PersonID: "p1", Name: "Eulalia Borrowed", Email: "e@borrowed.example"})
	if err != nil {
		t.Fatal(err)
	}
	if len(published) != 1 || published[0].Subject != "person-p1" || len(published[0].Key) != 32 {
		t.Fatalf("published %+v, want the new key of person-p1 before it was used", published)
	}

	copyDB := openDB(t)
	borrower := events.NewKeyring(copyDB)
	borrower.Borrows = true
	waited := 0
	borrower.Wait = func(string) bool { waited++; return false }
	reg := personalRegistry(borrower)
	if _, err := reg.Encode(events.Metadata{}, signedUp{PersonID: "p2", Name: "X"}); !errors.Is(err, events.ErrKeyUnavailable) || waited != 1 {
		t.Fatalf("a borrowing keyring sealing for a subject it has no key of: %v (waited %d), want ErrKeyUnavailable after a wait", err, waited)
	}
	if _, err := reg.Decode(sealed[0]); !errors.Is(err, events.ErrKeyUnavailable) {
		t.Fatalf("decoding before the key arrived: %v", err)
	}
	if err := borrower.Put(ctx, published...); err != nil {
		t.Fatal(err)
	}
	if p, err := reg.Decode(sealed[0]); err != nil || p.(signedUp).Name != "Eulalia Borrowed" {
		t.Fatalf("decoding with the borrowed key: %+v, %v", p, err)
	}
	if err := borrower.Drop(ctx, "person-p1", nil); err != nil {
		t.Fatal(err)
	}
	if err := borrower.Put(ctx, published...); err != nil {
		t.Fatal(err)
	}
	if gone, _ := events.NewKeyring(copyDB).Forgotten("person-p1"); !gone {
		t.Fatal("a key given again after the tombstone was kept")
	}
	if err := borrower.Put(ctx, events.SubjectKey{Subject: "person-p3", Key: []byte("short")}); err == nil {
		t.Fatal("a key of the wrong size was stored")
	}
}

// A key whose publication was not confirmed is not used, and is published
// again (the same key) at its next use, also after a restart; once
// confirmed it is not published again.
func TestAKeyNotConfirmedPublishedIsPublishedAgainBeforeItsNextUse(t *testing.T) {
	db := openDB(t)
	brokerAway := errors.New("the broker is away")
	var published [][]byte
	keyring := func(fail bool) *events.Keyring {
		k := events.NewKeyring(db)
		k.Published = func(_ context.Context, subject string, key []byte) error {
			if subject != "person-p1" {
				t.Errorf("published the key of %s", subject)
			}
			if fail {
				return brokerAway
			}
			published = append(published, key)
			return nil
		}
		return k
	}
	if key, err := keyring(true).KeyFor("person-p1"); !errors.Is(err, brokerAway) || key != nil {
		t.Fatalf("a key whose publication failed: %x, %v; want no key and the failure", key, err)
	}
	k := keyring(true)
	if key, err := k.KeyFor("person-p1"); !errors.Is(err, brokerAway) || key != nil {
		t.Fatalf("the unpublished key after a restart, its publication failing again: %x, %v", key, err)
	}
	// The broker is back (for this keyring, and for a restarted one).
	k.Published = keyring(false).Published
	first, err := k.KeyFor("person-p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(published) != 1 || !bytes.Equal(published[0], first) {
		t.Fatalf("published %x, want the key made first (%x) once", published, first)
	}
	if again, err := keyring(false).KeyFor("person-p1"); err != nil || !bytes.Equal(again, first) || len(published) != 1 {
		t.Fatalf("after a restart: %x, %v, published %d times; want the same key, not published again", again, err, len(published))
	}
	// A key received from another process is not this one's to publish.
	if err := k.Put(context.Background(), events.SubjectKey{Subject: "person-p2", Key: bytes.Repeat([]byte{7}, 32)}); err != nil {
		t.Fatal(err)
	}
	k.Published = func(context.Context, string, []byte) error { t.Error("a received key was published"); return nil }
	if _, err := k.KeyFor("person-p2"); err != nil {
		t.Fatal(err)
	}
}
