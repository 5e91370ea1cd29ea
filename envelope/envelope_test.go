package envelope_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/molt-go/molt/envelope"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMarshalRoundTrip(t *testing.T) {
	e := envelope.New("counter", 3, "msgpack", []byte{0x81, 0xa1, 'N', 0x07})
	e.Name, e.Labels, e.Sequence = "c-1", map[string]string{"shard": "4"}, 12
	data, err := envelope.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	back, err := envelope.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(back, e) {
		t.Fatalf("round trip = %v, want %v", back, e)
	}
	if !bytes.Equal(data, mustMarshal(t, e)) {
		t.Fatal("Marshal is not deterministic")
	}
}

func mustMarshal(t *testing.T, e *envelope.Envelope) []byte {
	t.Helper()
	data, err := envelope.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestCheckRefuses(t *testing.T) {
	long := strings.Repeat("x", envelope.MaxNameLength+1)
	cases := []struct {
		name   string
		change func(*envelope.Envelope)
		want   error
		says   string
	}{
		{"format unset", func(e *envelope.Envelope) { e.Format = 0 }, envelope.ErrMalformed, "envelope.New"},
		{"newer format", func(e *envelope.Envelope) { e.Format = 9 }, envelope.ErrFormat, "format 9"},
		{"no kind", func(e *envelope.Envelope) { e.Kind = "" }, envelope.ErrMalformed, "kind is empty"},
		{"version 0", func(e *envelope.Envelope) { e.Version = 0 }, envelope.ErrMalformed, "version 0"},
		{"no codec", func(e *envelope.Envelope) { e.Codec = "" }, envelope.ErrMalformed, "codec is empty"},
		{"long name", func(e *envelope.Envelope) { e.Name = long }, envelope.ErrMalformed, "name is 1025 bytes"},
		{"bad UTF-8", func(e *envelope.Envelope) { e.Name = "\xff" }, envelope.ErrMalformed, "UTF-8"},
		{"too many labels", func(e *envelope.Envelope) {
			e.Labels = map[string]string{}
			for i := 0; i <= envelope.MaxLabels; i++ {
				e.Labels[strings.Repeat("k", i+1)] = "v"
			}
		}, envelope.ErrMalformed, "65 labels"},
		{"empty label key", func(e *envelope.Envelope) { e.Labels = map[string]string{"": "v"} }, envelope.ErrMalformed, "label key is empty"},
		{"flipped state bit", func(e *envelope.Envelope) { e.State[0] ^= 0x10 }, envelope.ErrCorrupt, "CRC-32C"},
		{"truncated state", func(e *envelope.Envelope) { e.State = e.State[:1] }, envelope.ErrCorrupt, "1 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := envelope.New("counter", 1, "msgpack", []byte{1, 2, 3})
			c.change(e)
			err := e.Check()
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("Check = %v, want %v saying %q", err, c.want, c.says)
			}
			if _, err := envelope.Marshal(e); !errors.Is(err, c.want) {
				t.Fatalf("Marshal = %v, want %v", err, c.want)
			}
		})
	}
}

func TestUnmarshalRefuses(t *testing.T) {
	if _, err := envelope.Unmarshal([]byte{0xff, 0xff}); !errors.Is(err, envelope.ErrMalformed) || !strings.Contains(err.Error(), "not an envelope") {
		t.Errorf("Unmarshal(garbage) = %v", err)
	}
	if _, err := envelope.Unmarshal(make([]byte, envelope.MaxSize+1)); !errors.Is(err, envelope.ErrMalformed) || !strings.Contains(err.Error(), "MaxSize") {
		t.Errorf("Unmarshal(too big) = %v", err)
	}
	if _, err := envelope.Unmarshal(nil); !errors.Is(err, envelope.ErrMalformed) {
		t.Errorf("Unmarshal(nil) = %v, want ErrMalformed (format unset)", err)
	}
}

// FuzzUnmarshal: no input panics, and whatever Unmarshal accepts marshals
// and unmarshals to an equal envelope.
func FuzzUnmarshal(f *testing.F) {
	e := envelope.New("counter", 2, "msgpack", []byte("state"))
	e.Name, e.Labels = "n", map[string]string{"a": "b"}
	data, _ := envelope.Marshal(e)
	f.Add(data)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := envelope.Unmarshal(data)
		if err != nil {
			return
		}
		again, err := envelope.Marshal(e)
		if err != nil {
			t.Fatalf("an envelope Unmarshal accepted does not Marshal: %v", err)
		}
		back, err := envelope.Unmarshal(again)
		if err != nil || !proto.Equal(back, e) {
			t.Fatalf("re-marshal changed the envelope: %v, %v", back, err)
		}
	})
}
