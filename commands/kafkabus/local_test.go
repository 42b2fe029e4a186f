package kafkabus

import (
	"context"
	"errors"
	"testing"
	"time"

	"orderflow/commands"
)

// TestSettleLocal: what the callers of local commands hear once the
// transaction ended. Committed, each its outcome (carried out with its
// reply, or handed back when the feed did not take it); aborted, every one
// handed back, to take the topic; an end whose outcome is not known, an
// error for those carried out (they may have taken effect: they must not
// be sent again as new) and the others handed back.
func TestSettleLocal(t *testing.T) {
	endFailed := errors.New("end transaction: broker gone")
	carried := localOutcome{taken: true, rep: reply{CommandID: "cmd-1", ResultID: "o1", EventID: "e1"}}
	tests := []struct {
		name           string
		out            []localOutcome
		committed      bool
		endErr         error
		want           []string // per command: "carried", "handed back" or "error"
		carriedN, back uint64
	}{
		{"committed", []localOutcome{carried, {}}, true, nil, []string{"carried", "handed back"}, 1, 1},
		{"aborted", []localOutcome{carried, {}}, false, nil, []string{"handed back", "handed back"}, 0, 2},
		{"end not known", []localOutcome{carried, {}}, false, endFailed, []string{"error", "handed back"}, 0, 1},
		{"no transaction begun", nil, false, nil, []string{"handed back", "handed back"}, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &Feed{}
			locals := make([]localCommand, 2)
			for i := range locals {
				locals[i] = localCommand{ctx: context.Background(), cmd: commands.Command{ID: "cmd-x", Context: "orders"}, done: make(chan localOutcome, 1)}
			}
			f.settleLocal(locals, tt.out, tt.committed, tt.endErr)
			for i, l := range locals {
				var o localOutcome
				select {
				case o = <-l.done:
				default:
					t.Fatalf("command %d was told nothing", i)
				}
				got := "handed back"
				switch {
				case o.err != nil:
					got = "error"
					if !errors.Is(o.err, endFailed) || !errors.Is(o.err, commands.ErrOutcomeUnknown) {
						t.Errorf("command %d: error %v does not wrap the end's and say the outcome is not known", i, o.err)
					}
				case o.taken:
					got = "carried"
					if o.rep != carried.rep {
						t.Errorf("command %d: reply %+v, want %+v", i, o.rep, carried.rep)
					}
				}
				if got != tt.want[i] {
					t.Errorf("command %d: %s, want %s", i, got, tt.want[i])
				}
			}
			if c, b := f.LocalCommands(); c != tt.carriedN || b != tt.back {
				t.Errorf("counted %d carried out and %d handed back, want %d and %d", c, b, tt.carriedN, tt.back)
			}
		})
	}
}

// TestOfferTakesOnlyWhatTheFeedOwns: a feed takes a command of its own
// context whose key's partition it owns, with a fetch linger, and an id
// the log can find it by; anything else takes the topic.
func TestOfferTakesOnlyWhatTheFeedOwns(t *testing.T) {
	owned := int32(partitionOf([]byte("o-1"), 12))
	feed := func(linger time.Duration) *Feed {
		return &Feed{Context: "orders", Partitions: 12, cluster: Cluster{FetchLinger: linger},
			local: make(chan localCommand, 1), owned: map[int32]bool{owned: true}}
	}
	full := feed(MinFetchLinger)
	cmd := commands.Command{ID: "cmd-1", Context: "orders", Key: "o-1"}
	var other string
	for i := 0; other == ""; i++ {
		if k := "o-" + string(rune('a'+i)); int32(partitionOf([]byte(k), 12)) != owned {
			other = k
		}
	}
	tests := []struct {
		name  string
		feed  *Feed
		cmd   commands.Command
		taken bool
	}{
		{"its own key", full, cmd, true},
		{"the queue full", full, cmd, false},
		{"a key of another member", feed(MinFetchLinger), commands.Command{ID: "cmd-2", Context: "orders", Key: other}, false},
		{"another context", feed(MinFetchLinger), commands.Command{ID: "cmd-3", Context: "payments", Key: "o-1"}, false},
		{"an id from outside", feed(MinFetchLinger), commands.Command{ID: "x-4", Context: "orders", Key: "o-1"}, false},
		{"no fetch linger", feed(0), cmd, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := tt.feed.Offer(context.Background(), tt.cmd); ok != tt.taken {
				t.Errorf("Offer took it: %v, want %v", ok, tt.taken)
			}
		})
	}
}
