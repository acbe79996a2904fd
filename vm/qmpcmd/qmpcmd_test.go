package qmpcmd

import (
	"errors"
	"testing"
)

func TestDecodeReply(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		want      string
		wantClass string
		wantErr   bool
	}{
		{name: "return", raw: `{"return":{"status":"running"},"id":"libvirt-416"}`, want: `{"status":"running"}`},
		{name: "empty return", raw: `{"return":{}}`, want: `{}`},
		{name: "error", raw: `{"id":"libvirt-9","error":{"class":"CommandNotFound","desc":"The command x has not been found"}}`, wantClass: "CommandNotFound"},
		{name: "not JSON", raw: `Command not found`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeReply("cmd", []byte(tt.raw))
			var qe *Error
			switch {
			case tt.wantClass != "":
				if !errors.As(err, &qe) || qe.Class != tt.wantClass || qe.Command != "cmd" {
					t.Errorf("DecodeReply = %s, %v; want an *Error of class %s", got, err, tt.wantClass)
				}
			case tt.wantErr:
				if err == nil || errors.As(err, &qe) {
					t.Errorf("DecodeReply = %s, %v; want a decoding error", got, err)
				}
			case err != nil || string(got) != tt.want:
				t.Errorf("DecodeReply = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}
