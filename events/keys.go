package events

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrForgotten says a subject (a customer) was forgotten: its key is gone,
// and nothing personal may be written about it again.
var ErrForgotten = errors.New("the subject was forgotten: its personal data was erased")

// ErrKeyUnavailable says a subject has no key here, and was not forgotten
// here either: split into services, its key has not arrived yet.
var ErrKeyUnavailable = errors.New("the subject's key is not available here")

// keySize is the size of a subject's key: AES-256.
const keySize = 32

// Keyring holds the data keys of subjects, in the subject_keys table of the
// database (not in the log), with a copy of the ones used lately in memory.
// The registry seals personal fields under them and opens them again; a
// forgotten subject's key is deleted and never made again.
//
// In one process every key is made and deleted here. Split into services,
// the processes that run the subjects' context make and forget them
// (KeyFor, Forget) and publish each (Published) before the key is used or
// the erasure reported; the others only borrow (Borrows): they receive
// keys and tombstones (Put, Drop) and wait for a key they lack (Wait).
// See kafkabus.Keys.
type Keyring struct {
	db   *DB     // nil for a keyring that only reads
	read *sql.DB // where keys are looked up

	// Published, when set, makes a key or a tombstone known to the other
	// processes; it is called before the key is used and before Forget
	// returns, and a key it could not publish is not used. A key whose
	// publication was not confirmed (the broker away, a crash in between)
	// is published again before its next use: see KeyFor.
	Published func(ctx context.Context, subject string, key []byte) error
	// Wait, when set, waits for a key made elsewhere to arrive (split into
	// services), at most a bounded time, before a reader gives up with
	// ErrKeyUnavailable.
	Wait func(subject string) bool
	// Borrows says this database makes no keys: split into services, a
	// process that does not run the context owning the subjects waits for
	// their keys to arrive (Wait) instead of making its own.
	Borrows bool

	mu        sync.Mutex
	keys      map[string][]byte
	forgotten map[string]bool
	// unpublished are the subjects whose key was made here and its
	// publication not confirmed by the broker (subject_keys.published = 0).
	unpublished map[string]bool
}

// publishWait bounds how long making a key known to the other processes,
// or a subject's erasure, may wait for the broker: with the broker away a
// registration fails (and is tried again) rather than hanging.
const publishWait = 10 * time.Second

// keyCacheLimit bounds the keys kept in memory; the table holds them all.
const keyCacheLimit = 100_000

// NewKeyring returns the keyring of the database.
func NewKeyring(db *DB) *Keyring {
	return &Keyring{db: db, read: db.read, keys: map[string][]byte{}, forgotten: map[string]bool{}, unpublished: map[string]bool{}}
}

// errReadOnly is returned by a keyring that only reads when asked to write.
var errReadOnly = errors.New("this keyring only reads keys")

// ReadKeyring returns a keyring that reads the keys of the database behind
// read (as a tool that opens it beside the server does) and changes none.
func ReadKeyring(read *sql.DB) *Keyring {
	return &Keyring{read: read, keys: map[string][]byte{}, forgotten: map[string]bool{}, unpublished: map[string]bool{}}
}

// Key returns a subject's key: ErrForgotten when it was forgotten,
// ErrKeyUnavailable when this database has none.
func (k *Keyring) Key(subject string) ([]byte, error) {
	key, err := k.lookup(subject)
	if errors.Is(err, ErrKeyUnavailable) && k.Wait != nil && k.Wait(subject) {
		key, err = k.lookup(subject)
	}
	return key, err
}

func (k *Keyring) lookup(subject string) ([]byte, error) {
	k.mu.Lock()
	key, ok := k.keys[subject]
	gone := k.forgotten[subject]
	k.mu.Unlock()
	switch {
	case gone:
		return nil, ErrForgotten
	case ok:
		return key, nil
	}
	var stored []byte
	var published bool
	err := k.read.QueryRow(`SELECT key, published FROM subject_keys WHERE subject = ?`, subject).Scan(&stored, &published)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrKeyUnavailable
	case err != nil:
		return nil, fmt.Errorf("read the key of %s: %w", subject, err)
	case stored == nil:
		k.remember(subject, nil, true)
		return nil, ErrForgotten
	}
	k.remember(subject, stored, published)
	return stored, nil
}

func (k *Keyring) remember(subject string, key []byte, published bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.unpublished, subject)
	if key == nil {
		delete(k.keys, subject)
		k.forgotten[subject] = true
		return
	}
	if len(k.keys) >= keyCacheLimit {
		// The table holds them all: the ones in use come back.
		clear(k.keys)
		clear(k.unpublished)
	}
	k.keys[subject] = key
	if !published {
		k.unpublished[subject] = true
	}
}

// KeyFor returns the key to seal a subject's personal fields under, made
// (and published) when the subject has none yet; ErrForgotten when the
// subject was forgotten.
func (k *Keyring) KeyFor(subject string) ([]byte, error) {
	if k.Borrows {
		return k.Key(subject)
	}
	key, err := k.lookup(subject)
	if errors.Is(err, ErrKeyUnavailable) && k.Wait != nil && k.Wait(subject) {
		key, err = k.lookup(subject) // made by an earlier owner of the subject
	}
	if err == nil {
		return k.confirmed(subject, key)
	}
	if !errors.Is(err, ErrKeyUnavailable) {
		return nil, err
	}
	if k.db == nil {
		return nil, errReadOnly
	}
	fresh := make([]byte, keySize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("make a key for %s: %w", subject, err)
	}
	// The first key made for a subject wins (another writer may race). It
	// is stored unpublished when it must be published, so that a process
	// that stops before the broker confirmed it publishes it at its next
	// use.
	if err := k.db.Write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO subject_keys (subject, key, created_at, published) VALUES (?, ?, ?, ?) ON CONFLICT (subject) DO NOTHING`,
			subject, fresh, time.Now().UnixNano(), k.Published == nil)
		return err
	}); err != nil {
		return nil, fmt.Errorf("store the key of %s: %w", subject, err)
	}
	if key, err = k.lookup(subject); err != nil {
		return nil, err
	}
	return k.confirmed(subject, key)
}

// confirmed returns key once it is known to the other processes: a key
// made here whose publication the broker has not confirmed yet is
// published, waiting at most publishWait, and recorded published; one it
// could not publish is not used. A key already confirmed, or a keyring
// that publishes nothing, costs nothing.
func (k *Keyring) confirmed(subject string, key []byte) ([]byte, error) {
	k.mu.Lock()
	pending := k.unpublished[subject]
	k.mu.Unlock()
	if !pending || k.Published == nil {
		return key, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishWait)
	defer cancel()
	if err := k.Published(ctx, subject, key); err != nil {
		return nil, fmt.Errorf("publish the key of %s: %w", subject, err)
	}
	if err := k.db.Write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE subject_keys SET published = 1 WHERE subject = ? AND key = ?`, subject, key)
		return err
	}); err != nil {
		// Published all the same: the next use publishes it once more.
		return nil, fmt.Errorf("record the key of %s published: %w", subject, err)
	}
	k.mu.Lock()
	delete(k.unpublished, subject)
	k.mu.Unlock()
	return key, nil
}

// SubjectKey is a subject's key as another process made it.
type SubjectKey struct {
	Subject string
	Key     []byte
}

// Put stores keys made elsewhere (split into services), in one write. A
// subject forgotten here keeps no key, and a key already held stays.
func (k *Keyring) Put(ctx context.Context, keys ...SubjectKey) error {
	for _, sk := range keys {
		if len(sk.Key) != keySize {
			return fmt.Errorf("the key of %s has %d bytes, not %d", sk.Subject, len(sk.Key), keySize)
		}
	}
	if k.db == nil {
		return errReadOnly
	}
	if err := k.db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := time.Now().UnixNano()
		for _, sk := range keys {
			if _, err := tx.Exec(`INSERT INTO subject_keys (subject, key, created_at) VALUES (?, ?, ?) ON CONFLICT (subject) DO NOTHING`,
				sk.Subject, sk.Key, now); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("store %d keys: %w", len(keys), err)
	}
	return nil
}

// Forget deletes a subject's key for good, and runs erase in the same
// transaction (it blanks what is stored in the clear: see
// Registry.BlankInPlace). The
// row stays, keyless, so no key is made for the subject again. Forgetting
// a subject twice is harmless. Deleted rows are overwritten with zeros
// (secure_delete), but older copies of the pages may still be in the WAL:
// call DB.Scrub once the read models are overwritten too.
func (k *Keyring) Forget(ctx context.Context, subject string, erase func(tx *sql.Tx) error) error {
	if err := k.Drop(ctx, subject, erase); err != nil {
		return err
	}
	if k.Published != nil {
		ctx, cancel := context.WithTimeout(ctx, publishWait)
		defer cancel()
		if err := k.Published(ctx, subject, nil); err != nil {
			return fmt.Errorf("publish that %s was forgotten: %w", subject, err)
		}
	}
	return nil
}

// Drop deletes this database's copy of a subject's key, forgotten by the
// process that owns it (split into services: its tombstone arrived), and
// runs erase in the same transaction; it publishes nothing.
func (k *Keyring) Drop(ctx context.Context, subject string, erase func(tx *sql.Tx) error) error {
	// Forgotten in memory first: no reader opens the fields from here on,
	// even while the deletion waits for the writer. Should it fail, the
	// subject stays unreadable until the erasure is tried again.
	if k.db == nil {
		return errReadOnly
	}
	k.remember(subject, nil, true)
	k.db.tail.dropDecoded()
	if err := k.db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := time.Now().UnixNano()
		if _, err := tx.Exec(`INSERT INTO subject_keys (subject, key, created_at, forgotten_at) VALUES (?, NULL, ?, ?)
			ON CONFLICT (subject) DO UPDATE SET key = NULL, forgotten_at = COALESCE(forgotten_at, excluded.forgotten_at)`,
			subject, now, now); err != nil {
			return err
		}
		if erase != nil {
			return erase(tx)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("forget %s: %w", subject, err)
	}
	return nil
}

// Forgotten says whether the subject was forgotten, as this database knows.
func (k *Keyring) Forgotten(subject string) (bool, error) {
	_, err := k.lookup(subject)
	switch {
	case errors.Is(err, ErrForgotten):
		return true, nil
	case err == nil, errors.Is(err, ErrKeyUnavailable):
		return false, nil
	}
	return false, err
}
