package app

import (
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"orderflow/commands/kafkabus"
)

// TestSeedSources: a new member starts from a running member that runs
// its contexts (the same ones first, then more, the latest word first),
// never from itself, a word gone stale, a member that lacks one of its
// contexts, or, with access control, a word not signed with the
// deployment's secret.
func TestSeedSources(t *testing.T) {
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	api := []string{"api", "orders", "catalog", "customers", "payments"}
	word := func(url string, contexts []string, age time.Duration) kafkabus.Announcement {
		return kafkabus.Announcement{URL: url, Contexts: contexts, At: now.Add(-age)}
	}
	signed := func(secret string, a kafkabus.Announcement) kafkabus.Announcement {
		a.Signature = signAnnouncement(secret, a)
		return a
	}
	const secret = "0123456789abcdef0123456789abcdef"
	for _, tt := range []struct {
		name      string
		announced []kafkabus.Announcement
		contexts  []string
		self      string
		secret    string
		want      []string
	}{
		{"nobody", nil, api, "http://c:1", "", nil},
		{"same contexts before more, latest first", []kafkabus.Announcement{
			word("http://all:1", append(slices.Clone(api), "inventory"), time.Second),
			word("http://old:1", api, time.Minute),
			word("http://new:1", api, 2*time.Second),
		}, api, "http://c:1", "", []string{"http://new:1", "http://old:1", "http://all:1"}},
		{"an API replica starts from the API service", []kafkabus.Announcement{
			word("http://api:1", api, time.Second),
			word("http://inventory:1", []string{"inventory"}, time.Second),
		}, []string{"api"}, "http://c:1", "", []string{"http://api:1"}},
		{"not from one that lacks a context", []kafkabus.Announcement{
			word("http://fraud:1", []string{"fraud", "customercheck"}, time.Second),
		}, []string{"fraud", "customercheck", "notifications"}, "http://c:1", "", nil},
		{"not from itself, nor a stale word", []kafkabus.Announcement{
			word("http://c:1", api, time.Second),
			word("http://gone:1", api, announceMaxAge+time.Second),
		}, api, "http://c:1", "", nil},
		{"with a secret, only words signed with it", []kafkabus.Announcement{
			word("http://unsigned:1", api, time.Second),
			signed("another secret of at least 32 bytes!", word("http://other:1", api, time.Second)),
			signed(secret, word("http://signed:1", api, time.Second)),
		}, api, "http://c:1", secret, []string{"http://signed:1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, a := range seedSources(tt.announced, tt.contexts, tt.self, tt.secret, now) {
				got = append(got, a.URL)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("sources %v, want %v", got, tt.want)
			}
		})
	}
	// A signature covers the word: the same one with another address or
	// more contexts does not verify.
	a := signed(secret, word("http://api:1", api, time.Second))
	moved := a
	moved.URL = "http://elsewhere:1"
	if got := seedSources([]kafkabus.Announcement{moved}, api, "", secret, now); len(got) != 0 {
		t.Errorf("a signed word moved to another address was taken: %v", got)
	}
}

// TestAdvertisedURL: a process says it serves at --advertise-url, or at
// the address it listens on, with the host written in --addr, or the
// machine's name when it listens on every interface.
func TestAdvertisedURL(t *testing.T) {
	host, _ := os.Hostname()
	for _, tt := range []struct {
		addr, advertise, want string
	}{
		{"localhost:0", "", "http://localhost:PORT"},
		{"127.0.0.1:0", "", "http://127.0.0.1:PORT"},
		{":0", "", "http://" + host + ":PORT"},
		{"127.0.0.1:0", "https://api-1.shop.internal:8443/", "https://api-1.shop.internal:8443"},
		{"127.0.0.1:0", "none", ""},
	} {
		ln, err := net.Listen("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		want := strings.ReplaceAll(tt.want, "PORT", strconv.Itoa(port))
		if got := advertisedURL(Config{Addr: tt.addr, AdvertiseURL: tt.advertise}, ln); got != want {
			t.Errorf("--addr %s --advertise-url %q: %q, want %q", tt.addr, tt.advertise, got, want)
		}
		ln.Close()
	}
}

// TestLoopback: the addresses only this machine reaches are told apart.
func TestLoopback(t *testing.T) {
	for u, want := range map[string]bool{
		"http://localhost:8080": true, "http://127.0.0.1:1": true, "http://[::1]:8080": true,
		"http://api-1.shop.internal:8080": false, "https://10.0.0.7": false, "%": false,
	} {
		if got := loopback(u); got != want {
			t.Errorf("loopback(%q) = %v, want %v", u, got, want)
		}
	}
}

// TestStartsFromChangelogs: a member whose every context restores its
// state from a changelog starts from the changelogs, faster than from any
// copy; any other seeds from a running member.
func TestStartsFromChangelogs(t *testing.T) {
	for _, tt := range []struct {
		contexts []string
		want     bool
	}{
		{[]string{"inventory"}, true},
		{[]string{"fraud"}, true},
		{[]string{"fraud", "customercheck", "notifications"}, false},
		{[]string{"api", "orders", "catalog", "customers", "payments"}, false},
		{[]string{"api"}, false},
	} {
		if got := startsFromChangelogs(Config{Transport: TransportKafka, Contexts: tt.contexts}); got != tt.want {
			t.Errorf("%v: %v, want %v", tt.contexts, got, tt.want)
		}
	}
}
