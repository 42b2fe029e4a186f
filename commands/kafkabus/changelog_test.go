package kafkabus

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// Every record of a stream's state, and a partition's watermark, lands on
// the partition of the stream's key, and the state comes back whole from
// the latest record of each key.
func TestChangelogRecordsRoundTrip(t *testing.T) {
	const partitions = 12
	big := `{"open":{` + strings.Repeat(`"0123456789abcdef0123456789abcdef":1,`, 20_000) + `"x":1}}`
	tests := []struct {
		name   string
		stream string
		state  string
		parts  int
	}{
		{"small", "stock-kettle", `{"productId":"kettle","onHand":5}`, 1},
		{"cut into parts", "stock-popular", big, (len(big) + changelogPart - 1) / changelogPart},
		{"exactly one record's worth", "fraud-c1", `"` + strings.Repeat("a", changelogPart-2) + `"`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := stateRecords("orderflow.x.changelog", tt.stream, 7, []byte(tt.state), partitions)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != tt.parts {
				t.Fatalf("%d records, want %d", len(recs), tt.parts)
			}
			want := partitionOf([]byte(tt.stream[strings.Index(tt.stream, "-")+1:]), partitions)
			var vs []changelogValue
			keys := map[string]bool{}
			for _, r := range recs {
				if got := partitionOf([]byte(r.key), partitions); got != want {
					t.Errorf("record keyed %q lands on partition %d, the stream's is %d", r.key, got, want)
				}
				if keys[r.key] {
					t.Errorf("two records keyed %q: compaction would keep one", r.key)
				}
				keys[r.key] = true
				if len(r.msg.Payload) > changelogPart*2 {
					t.Errorf("a record of %d bytes", len(r.msg.Payload))
				}
				var v changelogValue
				if err := json.Unmarshal(r.msg.Payload, &v); err != nil {
					t.Fatal(err)
				}
				vs = append(vs, v)
			}
			sn, err := assemble(tt.stream, vs)
			if err != nil {
				t.Fatal(err)
			}
			if sn.StreamID != tt.stream || sn.Version != 7 || !bytes.Equal(sn.State, []byte(tt.state)) {
				t.Errorf("assembled %q at %d (%d bytes), want %q at 7 (%d bytes)", sn.StreamID, sn.Version, len(sn.State), tt.stream, len(tt.state))
			}
		})
	}
	for p := range int32(partitions) {
		w := watermarkRecord("orderflow.x.changelog", p, 42, partitions)
		if got := partitionOf([]byte(w.key), partitions); int32(got) != p {
			t.Errorf("the watermark of partition %d lands on %d", p, got)
		}
	}
}

// A state cut into parts is only put back from parts of one version: a
// part left from an older, longer state, or a missing part, is no state.
func TestChangelogAssembleChecksParts(t *testing.T) {
	tests := []struct {
		name string
		vs   []changelogValue
		want string // the state, or "" for an error
	}{
		{"whole", []changelogValue{{Version: 3, State: json.RawMessage(`{}`)}}, `{}`},
		{"parts", []changelogValue{{Version: 3, Chunk: []byte("ab"), Part: 0, Parts: 2}, {Version: 3, Chunk: []byte("cd"), Part: 1, Parts: 2}}, "abcd"},
		{"a part of an older version left over", []changelogValue{
			{Version: 4, Chunk: []byte("ab"), Part: 0, Parts: 2}, {Version: 4, Chunk: []byte("cd"), Part: 1, Parts: 2},
			{Version: 2, Chunk: []byte("zz"), Part: 2, Parts: 3}}, "abcd"},
		{"a part missing", []changelogValue{{Version: 3, Chunk: []byte("ab"), Part: 0, Parts: 2}, {Version: 2, Chunk: []byte("cd"), Part: 1, Parts: 2}}, ""},
		{"no first part", []changelogValue{{Version: 3, Chunk: []byte("cd"), Part: 1, Parts: 2}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sn, err := assemble("stock-p", tt.vs)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("assembled %q, want an error", sn.State)
				}
				return
			}
			if err != nil || string(sn.State) != tt.want {
				t.Fatalf("assembled %q, %v; want %q", sn.State, err, tt.want)
			}
		})
	}
}
