package flags_test

import (
	"net"
	"strings"
	"testing"

	"orderflow/app/flags"
)

func TestListen(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name    string
		addr    string
		wantErr []string // each in the error; none: it listens
	}{
		{"a free port", "127.0.0.1:0", nil},
		{"an address in use names the cause and the flag", taken.Addr().String(),
			[]string{"listen on " + taken.Addr().String(), "already in use by another process", "choose another with --addr"}},
		{"any other failure names the address", "127.0.0.1:http-not-a-port", []string{"listen on 127.0.0.1:http-not-a-port: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := flags.Listen("addr", tt.addr)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				ln.Close()
				return
			}
			if err == nil {
				ln.Close()
				t.Fatalf("listened on %s, want an error", tt.addr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %q, want one with %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "in use") != (tt.addr == taken.Addr().String()) {
				t.Errorf("err = %q: says in use when it is not, or the other way round", err)
			}
		})
	}
}
