package graph

import "testing"

// FuzzDecodeCursor checks the pagination cursor a client sends back: any
// string is either refused or a sequence number that encodes to a cursor
// decoding to it again; nothing panics.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeOrderCursor(0))
	f.Add(encodeOrderCursor(42))
	f.Add("b3JkZXI6LTE") // order:-1
	f.Add("")
	f.Add("not base64!")
	f.Fuzz(func(t *testing.T, c string) {
		seq, err := decodeOrderCursor(c)
		if err != nil {
			return
		}
		if seq < 0 {
			t.Fatalf("cursor %q decoded to %d", c, seq)
		}
		if back, err := decodeOrderCursor(encodeOrderCursor(seq)); err != nil || back != seq {
			t.Fatalf("cursor of %d decodes to %d, %v", seq, back, err)
		}
	})
}
