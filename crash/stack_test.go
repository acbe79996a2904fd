package crash

import "testing"

func TestEndsWithCall(t *testing.T) {
	tests := []struct {
		name string
		code []byte
		want bool
	}{
		{"call rel32", []byte{0x48, 0x89, 0xc7, 0xe8, 0x10, 0x20, 0x00, 0x00}, true},
		{"call rax", []byte{0x90, 0xff, 0xd0}, true},
		{"call r11 (REX)", []byte{0x41, 0xff, 0xd3}, true},
		{"call [rax]", []byte{0x90, 0xff, 0x10}, true},
		{"call [rsp]", []byte{0x90, 0xff, 0x14, 0x24}, true},
		{"call [rbx+0x18]", []byte{0x90, 0xff, 0x53, 0x18}, true},
		{"call [rsp+0x8]", []byte{0xff, 0x54, 0x24, 0x08}, true},
		{"call [rip+disp32]", []byte{0xff, 0x15, 0x00, 0x10, 0x00, 0x00}, true},
		{"call [rax+disp32]", []byte{0xff, 0x90, 0x00, 0x01, 0x00, 0x00}, true},
		{"call [rax*8+disp32]", []byte{0xff, 0x14, 0xc5, 0x00, 0x10, 0x00, 0x00}, true},
		{"jmp rax", []byte{0x90, 0xff, 0xe0}, false},
		{"push [rax] is FF /6", []byte{0x90, 0xff, 0x30}, false},
		{"mov, add, ret", []byte{0x48, 0x89, 0xe5, 0x48, 0x83, 0xc4, 0x08, 0xc3}, false},
		{"too short", []byte{0xe8}, false},
		{"nothing", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := endsWithCall(tt.code); got != tt.want {
				t.Errorf("endsWithCall(% x) = %v, want %v", tt.code, got, tt.want)
			}
		})
	}
}

func TestFrameString(t *testing.T) {
	tests := []struct {
		f    Frame
		want string
	}{
		{Frame{Addr: 0x401136}, "0x401136"},
		{Frame{Addr: 0x401136, Func: "crash", Offset: 6}, "crash+0x6"},
		{Frame{Addr: 0x401130, Func: "crash", File: "/src/main.c", Line: 5}, "crash (/src/main.c:5)"},
		{Frame{File: "main.c", Line: 30}, "main.c:30"},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestAddStackCallersNeedsAStack(t *testing.T) {
	c := &Crash{RIP: 0x401136, Frames: []Frame{{Addr: 0x401136}}, Stack: []StackWord{{Addr: 0x7fff0000, Value: 0x401162}}}
	if n := c.AddStackCallers(nil); n != 0 || len(c.Frames) != 1 {
		t.Errorf("without symbols: added %d, frames %v", n, c.Frames)
	}
}
