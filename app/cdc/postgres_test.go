package cdc_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgServer is a real PostgreSQL server that a test starts from the
// binaries of Debian's postgresql package: a cluster made by initdb in a
// temporary directory, listening on a free port of 127.0.0.1. PostgreSQL
// refuses to run as root, so as root it runs as the postgres user (or
// nobody).
type pgServer struct {
	t        *testing.T
	bin      string
	dir      string
	port     int
	password string
	walLevel string
	cred     *syscall.Credential
	cmd      *exec.Cmd
	exited   chan struct{}
}

// pgBin finds the server binaries; a test never skips for want of them.
func pgBin(t *testing.T) string {
	t.Helper()
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		t.Fatal("PostgreSQL's server binaries are missing (no /usr/lib/postgresql/*/bin/initdb): " +
			"apt-get install -y postgresql (.ci/run does it)")
	}
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	return filepath.Dir(found[0])
}

func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// startPostgres makes and starts a cluster with the given wal_level.
func startPostgres(t *testing.T, walLevel string) *pgServer {
	t.Helper()
	s := &pgServer{t: t, bin: pgBin(t), password: "s3cret-test", walLevel: walLevel, port: freePort(t)}
	dir, err := os.MkdirTemp("", "orderflow-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			t.Fatalf("running as root and no unprivileged user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s.cred != nil {
		os.Chown(pwfile, int(s.cred.Uid), int(s.cred.Gid))
	}
	initdb := s.command("initdb", "-D", s.data(), "-U", "admin", "--pwfile="+pwfile, "--auth-local=trust",
		"--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func (s *pgServer) data() string { return filepath.Join(s.dir, "data") }

func (s *pgServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Dir = s.dir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

// Start starts the server (again) and waits until it answers.
func (s *pgServer) Start() {
	s.t.Helper()
	logf, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	s.cmd = s.command("postgres", "-D", s.data(), "-c", "listen_addresses=127.0.0.1", "-c", fmt.Sprintf("port=%d", s.port),
		"-c", "unix_socket_directories="+s.dir, "-c", "wal_level="+s.walLevel, "-c", "max_wal_senders=10",
		"-c", "max_replication_slots=10", "-c", "fsync=off", "-c", "wal_sender_timeout=10s")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start postgres: %v", err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func(cmd *exec.Cmd) { cmd.Wait(); close(exited) }(s.cmd)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.DSN())
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
			s.t.Fatalf("postgres exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("postgres did not answer in time: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop shuts the server down (fast: open sessions are ended) and waits.
func (s *pgServer) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// DSN is the superuser's connection string.
func (s *pgServer) DSN() string { return s.DSNAs("admin", s.password) }

func (s *pgServer) DSNAs(user, password string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", user, password, s.port)
}

// Exec runs statements as the superuser.
func (s *pgServer) Exec(sqls ...string) {
	s.t.Helper()
	s.withConn(func(ctx context.Context, conn *pgx.Conn) {
		for _, q := range sqls {
			if _, err := conn.Exec(ctx, q); err != nil {
				s.t.Fatalf("%s: %v", q, err)
			}
		}
	})
}

// QueryRow reads one row as the superuser.
func (s *pgServer) QueryRow(q string, dest ...any) {
	s.t.Helper()
	s.withConn(func(ctx context.Context, conn *pgx.Conn) {
		if err := conn.QueryRow(ctx, q).Scan(dest...); err != nil {
			s.t.Fatalf("%s: %v", q, err)
		}
	})
}

// withConn runs fn on a connection as the superuser, within 30 s.
func (s *pgServer) withConn(fn func(ctx context.Context, conn *pgx.Conn)) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN())
	if err != nil {
		s.t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	fn(ctx, conn)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
