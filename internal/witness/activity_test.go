package witness

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func TestWitnessLogLineTime(t *testing.T) {
	tests := []struct {
		name, line string
		want       time.Time
		wantErr    bool
	}{
		{name: "nothing written", line: ""},
		{name: "a line", line: "2025-06-01T11:59:30.123456789Z {\"type\":\"assistant\"}\n",
			want: time.Date(2025, 6, 1, 11, 59, 30, 123456789, time.UTC)},
		{name: "cut by the byte limit", line: "2025-06-01T11:59:30.1Z {\"type\":\"ass",
			want: time.Date(2025, 6, 1, 11, 59, 30, 100000000, time.UTC)},
		{name: "an empty line", line: "2025-06-01T11:59:30Z \n", want: time.Date(2025, 6, 1, 11, 59, 30, 0, time.UTC)},
		{name: "no timestamp", line: "hello world", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lineTime(tt.line)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !got.Equal(tt.want) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestWitnessLogsOfALocalRunAreItsFileTime(t *testing.T) {
	log := filepath.Join(t.TempDir(), "gt-a.log")
	pc := newPolecat(local, func(pc *gastownv1.Polecat) { pc.Status.LocalLog = log })

	got, err := Logs{}.LastOutput(context.Background(), pc, nil)
	if err != nil || !got.IsZero() {
		t.Fatalf("before the run wrote: got %s, %v; want zero, nil", got, err)
	}
	if err := os.WriteFile(log, []byte("cloning\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	written := time.Date(2025, 6, 1, 11, 58, 0, 0, time.UTC)
	if err := os.Chtimes(log, written, written); err != nil {
		t.Fatal(err)
	}
	got, err = Logs{}.LastOutput(context.Background(), pc, nil)
	if err != nil || !got.Equal(written) {
		t.Fatalf("got %s, %v; want %s", got, err, written)
	}
}
