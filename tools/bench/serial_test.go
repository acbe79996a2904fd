package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// floodLines returns the flood's lines numbered from first, count of them.
func floodLines(first, count int) string {
	var b strings.Builder
	for i := first; i < first+count; i++ {
		fmt.Fprintf(&b, "%08d%s", i, floodLineRest)
	}
	return b.String()
}

func TestCountFlood(t *testing.T) {
	const head = "hello from ukdev\r\ntype 'help' for commands\r\nflood 3\r\nflood: writing for 3 s; ^C stops it\r\n"
	end := func(n int) string { return fmt.Sprintf("flood: wrote %d bytes in 3.0 s\r\n", n) }
	whole := floodLines(0, 100)
	tests := []struct {
		name    string
		log     string
		want    floodCount
		wantErr error
	}{
		{name: "every byte", log: head + whole + end(len(whole)) + "stats\r\n",
			want: floodCount{reported: 6400, logged: 6400, guestTime: 3 * time.Second}},
		{name: "empty flood", log: head + end(0),
			want: floodCount{guestTime: 3 * time.Second}},
		{name: "a line lost", log: head + floodLines(0, 50) + floodLines(51, 49) + end(len(whole)),
			want: floodCount{reported: 6400, logged: 6336, guestTime: 3 * time.Second, badLines: 1, damagedBytes: 64}},
		{name: "bytes lost inside a line", log: head + floodLines(0, 10) + "00000010 abc\r\n" + floodLines(11, 89) + end(len(whole)),
			want: floodCount{reported: 6400, logged: 6350, guestTime: 3 * time.Second, badLines: 1, damagedBytes: 14}},
		{name: "a line doubled", log: head + floodLines(0, 50) + floodLines(49, 51) + end(len(whole)),
			want: floodCount{reported: 6400, logged: 6464, guestTime: 3 * time.Second, badLines: 1, damagedBytes: 64}},
		{name: "not ended yet", log: head + floodLines(0, 10), wantErr: errNoFlood},
		{name: "end line not complete", log: head + floodLines(0, 10) + "flood: wrote 640 bytes in 3", wantErr: errNoFlood},
		{name: "no flood", log: "hello from ukdev\r\n", wantErr: errNoFlood},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := countFlood([]byte(tt.log))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("countFlood() error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("countFlood() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFloodCountLost(t *testing.T) {
	tests := []struct {
		c    floodCount
		want int64
	}{
		{floodCount{reported: 10, logged: 10}, 0},
		{floodCount{reported: 10, logged: 4}, 6},
		{floodCount{reported: 10, logged: 12}, 0},
	}
	for _, tt := range tests {
		if got := tt.c.lost(); got != tt.want {
			t.Errorf("%+v.lost() = %d, want %d", tt.c, got, tt.want)
		}
	}
}
