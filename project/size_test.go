package project

import (
	"errors"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "0", want: 0},
		{in: "512", want: 512},
		{in: "512B", want: 512},
		{in: "64k", want: 64 << 10},
		{in: "64KB", want: 64 << 10},
		{in: "128M", want: 128 << 20},
		{in: "128MiB", want: 128 << 20},
		{in: "128 mib", want: 128 << 20},
		{in: "256M", want: 256 << 20},
		{in: "1G", want: 1 << 30},
		{in: "2T", want: 2 << 40},
		{in: " 1G ", want: 1 << 30},
		{in: "8388607T", want: 8388607 << 40},
		{in: "8388608T", wantErr: true},
		{in: "99999999999999999999", wantErr: true},
		{in: "", wantErr: true},
		{in: "G", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "1.5G", wantErr: true},
		{in: "12X", wantErr: true},
		{in: "1Gi", wantErr: true},
		{in: "1GiBB", wantErr: true},
		{in: "1P", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadSize) {
					t.Fatalf("ParseSize(%q) = %d, %v; want ErrBadSize", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}
