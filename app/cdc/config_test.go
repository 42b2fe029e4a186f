package cdc

import (
	"testing"
)

// TestDropIsTakenFromTheCommandLineOnly: --drop destroys the slot, so a
// variable left in the environment (ORDERFLOW_DROP) must not make every
// start drop it; the other flags keep their environment fallback.
func TestDropIsTakenFromTheCommandLineOnly(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantDrop bool
	}{
		{"not asked", nil, nil, false},
		{"on the command line", []string{"--drop"}, nil, true},
		{"in the environment only", nil, map[string]string{"ORDERFLOW_DROP": "true"}, false},
		{"both", []string{"--drop"}, map[string]string{"ORDERFLOW_DROP": "true"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"ORDERFLOW_PG": "postgres://u@127.0.0.1:5432/shop"}
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := ParseFlags(tt.args, func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Drop != tt.wantDrop || cfg.DSN != env["ORDERFLOW_PG"] {
				t.Errorf("Drop %v, DSN %q; want Drop %v and the DSN from the environment", cfg.Drop, cfg.DSN, tt.wantDrop)
			}
		})
	}
}
