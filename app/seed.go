package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"orderflow/app/backup"
	"orderflow/graph/access"
)

// A process split into services keeps a log that is a cache of the topics,
// so a new member of its contexts can start from a copy of a running
// member's database instead of an empty one: it then copies only what the
// topics hold beyond the offsets saved in the copy (see kafkabus's first
// copy). GET /admin/backup serves such a copy, taken as `orderflow backup`
// takes one, and --seed-from fetches it into an absent --db before the
// process opens it.

// backupPath is where a process serves its backups from.
const backupPath = "/admin/backup"

// The trailers of a backup served: the sender's check of the copy it sent
// ("ok", "failed: what quick_check found", or "not checked") and the
// CRC-32C (Castagnoli) of its bytes, 8 hex digits.
const (
	copyCheckHeader    = "X-Orderflow-Copy-Check"
	copyChecksumHeader = "X-Orderflow-Copy-Crc32c"
)

// contextsHeader names the contexts of the process that sends a backup:
// a new member starts only from a copy of a process that runs all of its
// own (another holds other families, and other read models).
const contextsHeader = "X-Orderflow-Contexts"

// backupServeTime bounds how long sending one backup may take, beyond
// the server's --write-timeout.
const backupServeTime = 30 * time.Minute

// serveBackup answers GET /admin/backup with a backup of this process's
// database: admins only (any caller without --auth-secret), one at a time.
func (a *App) serveBackup(verifier *access.Verifier) http.Handler {
	return access.Authenticate(verifier, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := access.CallerFrom(r.Context())
		if err != nil {
			http.Error(w, "unauthenticated: "+err.Error(), http.StatusUnauthorized)
			return
		}
		if c.Role != access.RoleAdmin {
			http.Error(w, "forbidden: only an admin may take a backup of the database", http.StatusForbidden)
			return
		}
		if !a.backupBusy.CompareAndSwap(false, true) {
			http.Error(w, "a backup of this database is being sent already; try again when it is done", http.StatusServiceUnavailable)
			return
		}
		defer a.backupBusy.Store(false)
		dir, err := backup.SendingDir(a.cfg.DBPath)
		if err != nil {
			a.log.Error("backup for a caller: no room beside the database", "err", err)
			http.Error(w, "could not take a backup: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer os.RemoveAll(dir)
		res, err := backup.ForSending(r.Context(), a.cfg.DBPath, dir)
		if err != nil {
			a.log.Error("backup for a caller failed", "err", err)
			http.Error(w, "could not take a backup: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(backupServeTime))
		h := w.Header()
		h.Set("Content-Type", "application/vnd.sqlite3")
		h.Set("X-Orderflow-Log-Position", strconv.FormatInt(res.Position, 10))
		h.Set("X-Orderflow-Copy-Bytes", strconv.FormatInt(res.Bytes, 10))
		h.Set(contextsHeader, strings.Join(a.cfg.Contexts, ","))
		// The copy is checked while it is sent (backup.Send): the verdict
		// follows it, in trailers (so the body is chunked, without a
		// Content-Length; a copy cut short misses its last chunk).
		h.Set("Trailer", copyCheckHeader+", "+copyChecksumHeader)
		v, err := backup.Send(r.Context(), w, res.Path)
		if err != nil {
			a.log.Warn("backup for a caller: sending it failed", "caller", c.Subject, "err", err)
			return
		}
		h.Set(copyChecksumHeader, fmt.Sprintf("%08x", v.CRC32C))
		switch {
		case !v.Checked:
			h.Set(copyCheckHeader, "not checked")
		case v.Problem != "":
			a.log.Error("backup for a caller: the copy sent failed its check", "caller", c.Subject, "problem", v.Problem)
			h.Set(copyCheckHeader, "failed: "+strings.Join(strings.Fields(v.Problem), " "))
		default:
			h.Set(copyCheckHeader, "ok")
		}
		a.log.Info("sent a backup of the database", "caller", c.Subject, "bytes", res.Bytes,
			"log_position", res.Position, "copied_in", res.Took.Round(time.Millisecond), "checked", v.Checked && v.Problem == "")
	}))
}

// checkSeedFrom refuses a --seed-from that is not the http(s) address of
// a process.
func checkSeedFrom(s string) error {
	if !httpAddress(s) {
		return fmt.Errorf("--seed-from must be the http:// or https:// address of a running process of the same contexts, auto or none, not %q", s)
	}
	return nil
}

// seedAddress says a --seed-from names the address of a source, not auto
// or none.
func seedAddress(s string) bool { return s != "" && s != seedAuto && s != seedNone }

// httpAddress says s is an http:// or https:// address with a host, as
// --seed-from and --advertise-url want.
func httpAddress(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// seed, with --seed-from, fills an absent --db with a backup of a running
// process's database, checked (quick_check, by the sender or on its way
// in): seeded says so. With an address, from the process there (a failure
// stops the start); with auto (the default), from a member of the same
// contexts found on the members topic, the best first (seedSources), or
// when none answers, from nothing: the process copies the topics, as it
// does with none, and as a member whose every context keeps a changelog
// always does (startsFromChangelogs). self is this process's advertised
// address, never a source.
//
// The copy is linked in before it is all on disk, so that the process
// starts on it while the disk writes it: synced flushes it, and the
// process runs it beside its start. Until it has, a marker beside --db
// says so (backup.ReceiveEarly); a --db found with that marker, after a
// crash or a power cut before the copy was on disk, is discarded and
// fetched again (or filled from the topics as a new member's is). Any
// other --db that exists is started on as it is. The copies an earlier
// process was sending or receiving beside --db when it stopped are
// removed. seed runs holding the database's lock.
func seed(ctx context.Context, cfg Config, self string, log *slog.Logger) (seeded bool, synced func() error, err error) {
	if left, err := backup.RemoveLeftovers(cfg.DBPath); len(left) > 0 || err != nil {
		log.Warn("removed the copies an earlier process was sending or receiving beside the database when it stopped",
			"db", cfg.DBPath, "removed", left, "err", err)
	}
	if discarded, err := backup.Discard(cfg.DBPath); err != nil {
		return false, nil, fmt.Errorf("discard %s, received before it stopped and not all on disk then: %w", cfg.DBPath, err)
	} else if discarded {
		log.Warn("the database was received from a running process and was not all on disk when this process stopped: it was discarded, as a cache of the topics it is",
			"db", cfg.DBPath)
	}
	source := cfg.SeedFrom
	auto := source == seedAuto && cfg.Split() && !startsFromChangelogs(cfg)
	if !auto && !seedAddress(source) {
		return false, nil, nil
	}
	if _, err := os.Lstat(cfg.DBPath); err == nil {
		if !auto {
			log.Info("--seed-from: the database exists, the process starts on it", "db", cfg.DBPath)
		}
		return false, nil, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, nil, err
	}
	sources := []string{source}
	if auto {
		looked := time.Now()
		found := findSeedSources(ctx, cfg, self, log)
		log.Info("--seed-from auto: read where the members of these contexts serve", "members", len(found), "took", time.Since(looked).Round(time.Millisecond))
		sources = sources[:0]
		for _, a := range found {
			sources = append(sources, a.URL)
		}
	}
	if len(sources) > 0 {
		for _, suffix := range []string{"-wal", "-shm"} {
			if _, err := os.Lstat(cfg.DBPath + suffix); err == nil {
				return false, nil, fmt.Errorf("--seed-from: %s%s is left from another database; remove it first", cfg.DBPath, suffix)
			}
		}
	}
	for _, from := range sources {
		synced, err := fetchSeed(ctx, cfg, from, log)
		switch {
		case err == nil:
			return true, synced, nil
		case !auto:
			return false, nil, err
		case ctx.Err() != nil:
			return false, nil, ctx.Err()
		}
		log.Warn("--seed-from auto: could not start from a copy of this member's database; trying the next", "from", from, "err", err)
	}
	log.Info("--seed-from auto: no running member of these contexts to start from; copying the topics from their beginning",
		"contexts", strings.Join(cfg.Contexts, ","))
	return false, nil, nil
}

// seedClient fetches copies: a member that is gone (its word on the
// members topic not yet stale) is given up on in seconds, but a copy may
// take as long as it takes.
var seedClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   5 * time.Second,
	ResponseHeaderTimeout: 2 * time.Minute, // the sender copies its database before it answers
}}

// How long a source of a copy may keep silent: its /healthz must answer
// within seedProbeTime (a process stopped or frozen, whose word on the
// members topic is not stale yet, is passed by in seconds, not after the
// two minutes a sender may take to copy its database before it answers),
// and a copy being received must not stall for seedStallTime.
var (
	seedProbeTime = 2 * time.Second
	seedStallTime = 15 * time.Second
)

// fetchSeed fetches a backup of the database of the process at base into
// the absent --db (see seed).
func fetchSeed(ctx context.Context, cfg Config, base string, log *slog.Logger) (synced func() error, err error) {
	base = strings.TrimRight(base, "/")
	if err := probe(ctx, base+"/healthz"); err != nil {
		return nil, fmt.Errorf("--seed-from: %s did not answer: %w", base, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	from := base + backupPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, from, nil)
	if err != nil {
		return nil, fmt.Errorf("--seed-from: %w", err)
	}
	if cfg.AuthSecret != "" {
		// The process has the deployment's secret: it asks as an admin.
		token, err := access.Issue([]byte(cfg.AuthSecret), access.Caller{Subject: "seed", Role: access.RoleAdmin}, time.Minute, time.Now())
		if err != nil {
			return nil, fmt.Errorf("--seed-from: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := seedClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("--seed-from: fetch a backup from %s: %w", from, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("--seed-from: %s answered %s: %s", from, resp.Status, strings.TrimSpace(string(body)))
	}
	if sent := resp.Header.Get(contextsHeader); sent != "" && !covers(strings.Split(sent, ","), cfg.Contexts) {
		return nil, fmt.Errorf("--seed-from: %s runs the contexts %s, not all of this process's (%s): a copy of its database would not hold what this one needs",
			base, sent, strings.Join(cfg.Contexts, ","))
	}
	body := &unstalled{r: resp.Body, timer: time.AfterFunc(seedStallTime, func() {
		cancel(fmt.Errorf("the copy stalled: nothing arrived for %s", seedStallTime))
	})}
	defer body.timer.Stop()
	res, synced, err := backup.ReceiveEarly(ctx, body, cfg.DBPath, func() (backup.Verdict, bool) { return senderVerdict(resp.Trailer) })
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	if err != nil {
		return nil, fmt.Errorf("--seed-from: the backup from %s: %w", from, err)
	}
	log.Info("seeded the database from a running process", "from", base, "db", res.Path,
		"bytes", res.Bytes, "log_position", res.Position, "took", res.Took.Round(time.Millisecond))
	return synced, nil
}

// probe asks url (a /healthz) for an answer within seedProbeTime.
func probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, seedProbeTime)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := seedClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096)) //nolint:errcheck // the answer is only a sign of life
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}

// unstalled reads a copy being received, putting its timer off by
// seedStallTime with every byte that arrives.
type unstalled struct {
	r     io.Reader
	timer *time.Timer
}

func (u *unstalled) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if n > 0 {
		u.timer.Reset(seedStallTime)
	}
	return n, err
}

// senderVerdict reads the sender's word on the copy from the trailers of
// its answer: none (false) from a sender that gave none, which leaves the
// check to the receiver.
func senderVerdict(trailer http.Header) (backup.Verdict, bool) {
	check, sum := trailer.Get(copyCheckHeader), trailer.Get(copyChecksumHeader)
	crc, err := strconv.ParseUint(sum, 16, 32)
	if check == "" || len(sum) != 8 || err != nil {
		return backup.Verdict{}, false
	}
	v := backup.Verdict{Checked: check != "not checked", CRC32C: uint32(crc)}
	if v.Checked && check != "ok" {
		v.Problem = strings.TrimPrefix(check, "failed: ")
	}
	return v, true
}
