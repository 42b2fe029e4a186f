package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"orderflow/commands/kafkabus"
)

// Split into services, every process says on the members topic where it
// serves and which contexts it runs (kafkabus.MembersTopic), once it is
// ready and again while it runs; a new member started on an empty --db
// (with --seed-from auto, the default) reads the topic and starts from a
// copy of a running member's database, as --seed-from with its address
// would, instead of copying the topics from their beginning.

// The values of --seed-from that are not an address, and of
// --advertise-url that turns the announcement off.
const (
	seedAuto       = "auto"
	seedNone       = "none"
	advertiseNone  = "none"
	announceEvery  = 30 * time.Second
	announceMaxAge = 3 * announceEvery // an older word is a process that stopped without withdrawing it
	announceWait   = 5 * time.Second   // for one write or read of the members topic
)

// advertisedURL is the address other processes reach this one at: the
// --advertise-url, or this server's own address with the machine's host
// name when it listens on every interface. "" with --advertise-url none.
func advertisedURL(cfg Config, ln net.Listener) string {
	switch cfg.AdvertiseURL {
	case advertiseNone:
		return ""
	case "":
	default:
		return strings.TrimRight(cfg.AdvertiseURL, "/")
	}
	addr := ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		}
	} else if h, _, err := net.SplitHostPort(cfg.Addr); err == nil && h != "" {
		host = h // as the operator wrote it: localhost stays localhost
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// checkAdvertiseURL refuses an --advertise-url that is not an http(s)
// address.
func checkAdvertiseURL(s string) error {
	if s != "" && s != advertiseNone && !httpAddress(s) {
		return fmt.Errorf("--advertise-url must be the http:// or https:// address other processes reach this one at, or none, not %q", s)
	}
	return nil
}

// signAnnouncement signs an announcement with the deployment's secret, so
// that a word written by whoever can write the topic but has not the
// secret sends no new member to fetch its database (and show its admin
// token) elsewhere. Empty without a secret.
func signAnnouncement(secret string, a kafkabus.Announcement) string {
	if secret == "" {
		return ""
	}
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "orderflow member\x00%s\x00%s\x00%d", a.URL, strings.Join(a.Contexts, ","), a.At.UnixNano())
	return hex.EncodeToString(mac.Sum(nil))
}

// seedSources are the members a new one of contexts may start from, best
// first: those that run the same contexts before those that run more,
// then the latest word first. It passes by its own address (a process
// started again on an empty --db, whose earlier word is still there),
// the words older than announceMaxAge, and, with a secret, those not
// signed with it.
func seedSources(announced []kafkabus.Announcement, contexts []string, self, secret string, now time.Time) []kafkabus.Announcement {
	var out []kafkabus.Announcement
	for _, a := range announced {
		if a.URL == self || now.Sub(a.At) > announceMaxAge || !covers(a.Contexts, contexts) {
			continue
		}
		if secret != "" && !hmac.Equal([]byte(a.Signature), []byte(signAnnouncement(secret, a))) {
			continue
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		ei, ej := len(out[i].Contexts) == len(contexts), len(out[j].Contexts) == len(contexts)
		if ei != ej {
			return ei
		}
		return out[i].At.After(out[j].At)
	})
	return out
}

// loopback says url's host is this machine's loopback (localhost,
// 127.0.0.1, ::1).
func loopback(u string) bool {
	parsed, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := parsed.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// covers says a process running have holds every context of want.
func covers(have, want []string) bool {
	for _, c := range want {
		if !slices.Contains(have, c) {
			return false
		}
	}
	return true
}

// startsFromChangelogs says a new member of cfg's contexts has nothing to
// gain from a copy: every context it runs restores its state from its
// changelog, which is faster than any copy (an inventory member).
func startsFromChangelogs(cfg Config) bool {
	return len(restoredFamilies(cfg)) == len(cfg.Contexts)
}

// findSeedSources reads the members topic for --seed-from auto. A topic
// that cannot be read leaves the process to copy the topics.
func findSeedSources(ctx context.Context, cfg Config, self string, log *slog.Logger) []kafkabus.Announcement {
	cluster, err := cfg.KafkaCluster()
	if err != nil {
		return nil
	}
	reading, cancel := context.WithTimeout(ctx, announceWait)
	defer cancel()
	announced, err := kafkabus.Announced(reading, cluster)
	if err != nil {
		log.Warn("--seed-from auto: could not read where the other members serve; copying the topics instead", "err", err)
		return nil
	}
	return seedSources(announced, cfg.Contexts, self, cfg.AuthSecret, time.Now())
}

// announcer says where this process serves on the members topic while it
// runs: first once it is ready, then every announceEvery while it is; it
// withdraws its word when it stops.
type announcer struct {
	stop context.CancelFunc
	done sync.WaitGroup
}

// startAnnouncing starts the announcer of a process split into services
// that serves at self ("" announces nothing). ready says whether the
// process would answer /readyz with 200.
func startAnnouncing(cfg Config, self string, ready func(context.Context) bool, log *slog.Logger) (*announcer, error) {
	if self == "" {
		return nil, nil
	}
	cluster, err := cfg.KafkaCluster()
	if err != nil {
		return nil, err
	}
	an, err := kafkabus.NewAnnouncer(cluster)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	a := &announcer{stop: stop}
	a.done.Go(func() {
		defer an.Close()
		announced := false
		tick := time.NewTicker(time.Second) // until the first word; then every announceEvery
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				if announced {
					// Briefly: with the broker away, the word goes stale by itself.
					withdrawing, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					if err := an.Withdraw(withdrawing, self); err != nil {
						log.Warn("could not withdraw this process's word from the members topic; it goes stale by itself", "err", err)
					}
					cancel()
				}
				return
			case <-tick.C:
			}
			if !ready(ctx) {
				continue
			}
			w := kafkabus.Announcement{URL: self, Contexts: cfg.Contexts, At: time.Now().UTC()}
			w.Signature = signAnnouncement(cfg.AuthSecret, w)
			writing, cancel := context.WithTimeout(ctx, announceWait)
			err := an.Announce(writing, w)
			cancel()
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("could not say where this process serves on the members topic", "err", err)
			case err == nil && !announced:
				announced = true
				tick.Reset(announceEvery)
				log.Info("said where this process serves, for new members to start from a copy of its database", "url", self, "topic", kafkabus.MembersTopic)
				if loopback(self) {
					log.Info("that address reaches only processes on this machine; with members on other machines, set --advertise-url", "url", self)
				}
			}
		}
	})
	return a, nil
}

// close withdraws the word and stops; nil does nothing.
func (a *announcer) close() {
	if a == nil {
		return
	}
	a.stop()
	a.done.Wait()
}
