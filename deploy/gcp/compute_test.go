package gcp

import "testing"

func TestStorageEmulator(t *testing.T) {
	tests := []struct {
		host, want string
		wantErr    bool
	}{
		{host: "", want: ""},
		{host: "localhost:4443", want: "http://localhost:4443/storage/v1/"},
		{host: "127.0.0.1:9023", want: "http://127.0.0.1:9023/storage/v1/"},
		{host: "https://gcs.example.com:8443", want: "https://gcs.example.com:8443/storage/v1/"},
		{host: "http://emulator/some/path", want: "http://emulator/storage/v1/"},
		{host: "http://[::1", wantErr: true},
	}
	for _, tt := range tests {
		got, err := storageEmulator(tt.host)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("storageEmulator(%q) = %q, %v; want %q, error %v", tt.host, got, err, tt.want, tt.wantErr)
		}
	}
}
