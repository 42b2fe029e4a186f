package kafkabus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// MembersTopic is where the processes of a deployment say where they
// serve: each process split into services announces the contexts it runs
// and the address of its HTTP server, so that a new member of the same
// contexts can start from a copy of a running one's database (its GET
// /admin/backup) instead of copying the topics from their beginning. It
// is compacted and keyed by address: the latest word of each address is
// what it keeps, and a process that stops withdraws its word with a
// tombstone.
const MembersTopic = prefix + "members"

// An Announcement is a process's word on the members topic.
type Announcement struct {
	// URL is the base address other processes reach its HTTP server at.
	URL string `json:"url"`
	// Contexts are the contexts it runs.
	Contexts []string `json:"contexts"`
	// At is when it said so; it says so again while it runs, so an old
	// word is that of a process that stopped without withdrawing it.
	At time.Time `json:"at"`
	// Signature, in a deployment with access control, proves the word
	// comes from a process that holds the deployment's secret (see
	// app.signAnnouncement); empty without.
	Signature string `json:"signature,omitempty"`
}

// Announcer writes one process's word on the members topic.
type Announcer struct {
	cl *kgo.Client
}

// NewAnnouncer returns an announcer over its own client of the cluster;
// Close it.
func NewAnnouncer(cluster Cluster) (*Announcer, error) {
	cl, err := newClient(cluster)
	if err != nil {
		return nil, err
	}
	return &Announcer{cl: cl}, nil
}

// Announce writes a's word, keyed by its URL, and returns once the
// broker has it.
func (an *Announcer) Announce(ctx context.Context, a Announcement) error {
	value, err := json.Marshal(a)
	if err != nil {
		return err
	}
	// A word not delivered goes stale by itself (see deliver).
	if err := deliver(ctx, an.cl, &kgo.Record{Topic: MembersTopic, Key: []byte(a.URL), Value: value}); err != nil {
		return fmt.Errorf("announce %s on %s: %w", a.URL, MembersTopic, err)
	}
	return nil
}

// Withdraw writes the tombstone of url's word: the process there stops.
func (an *Announcer) Withdraw(ctx context.Context, url string) error {
	if err := deliver(ctx, an.cl, &kgo.Record{Topic: MembersTopic, Key: []byte(url)}); err != nil {
		return fmt.Errorf("withdraw %s from %s: %w", url, MembersTopic, err)
	}
	return nil
}

// Close closes the announcer's client.
func (an *Announcer) Close() { an.cl.Close() }

// Announced reads the members topic to its end and returns the latest
// word of every address that has not withdrawn it, in no order. A
// record that is not an announcement is passed by. A topic that does not
// exist yet (no process of this deployment started before) holds none.
func Announced(ctx context.Context, cluster Cluster) ([]Announcement, error) {
	cl, err := newClient(cluster)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics, err := adm.ListTopics(ctx, MembersTopic)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", MembersTopic, err)
	}
	if !topics.Has(MembersTopic) || topics[MembersTopic].Err != nil {
		return nil, nil
	}
	ends, err := heldEnds(ctx, cl, MembersTopic)
	if err != nil {
		return nil, err
	}
	latest := map[string]*Announcement{}
	err = readToEnds(ctx, cl.Opts(), MembersTopic, ends, func(r *kgo.Record) {
		if r.Value == nil {
			delete(latest, string(r.Key))
			return
		}
		var a Announcement
		if json.Unmarshal(r.Value, &a) != nil || a.URL != string(r.Key) {
			return
		}
		latest[a.URL] = &a
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", MembersTopic, err)
	}
	out := make([]Announcement, 0, len(latest))
	for _, a := range latest {
		out = append(out, *a)
	}
	return out, nil
}
