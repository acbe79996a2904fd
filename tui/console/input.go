package console

import (
	"strconv"

	tea "charm.land/bubbletea/v2"
)

// keyBytes returns the bytes a VT-style terminal sends for k, and false for
// a key that sends nothing (a lone modifier, a media key).
//
// Alt (meta) prefixes ESC, as xterm does with metaSendsEscape. ctrl+letter
// and ctrl+@ [ \ ] ^ _ ? send their C0 control. Cursor and editing keys
// with modifiers use xterm's "CSI 1 ; m X" and "CSI n ; m ~" forms.
func keyBytes(k tea.Key) ([]byte, bool) {
	if k.Mod.Contains(tea.ModAlt) {
		k.Mod &^= tea.ModAlt
		b, ok := keyBytes(k)
		if !ok {
			return nil, false
		}
		return append([]byte{0x1b}, b...), true
	}
	ctrl := k.Mod.Contains(tea.ModCtrl)
	if k.Text != "" && !ctrl {
		return []byte(k.Text), true
	}
	mod := xtermModifier(k.Mod)
	switch k.Code {
	case tea.KeyEnter:
		return []byte{'\r'}, true
	case tea.KeyTab:
		if k.Mod.Contains(tea.ModShift) {
			return []byte("\x1b[Z"), true
		}
		return []byte{'\t'}, true
	case tea.KeyBackspace:
		if ctrl {
			return []byte{0x08}, true
		}
		return []byte{0x7f}, true
	case tea.KeyEscape:
		return []byte{0x1b}, true
	case tea.KeySpace:
		if ctrl {
			return []byte{0x00}, true
		}
		return []byte{' '}, true
	case tea.KeyUp:
		return cursorKey('A', mod), true
	case tea.KeyDown:
		return cursorKey('B', mod), true
	case tea.KeyRight:
		return cursorKey('C', mod), true
	case tea.KeyLeft:
		return cursorKey('D', mod), true
	case tea.KeyHome:
		return cursorKey('H', mod), true
	case tea.KeyEnd:
		return cursorKey('F', mod), true
	case tea.KeyInsert:
		return tildeKey(2, mod), true
	case tea.KeyDelete:
		return tildeKey(3, mod), true
	case tea.KeyPgUp:
		return tildeKey(5, mod), true
	case tea.KeyPgDown:
		return tildeKey(6, mod), true
	}
	if k.Code >= tea.KeyF1 && k.Code <= tea.KeyF4 && mod == 1 {
		return []byte{0x1b, 'O', byte('P' + k.Code - tea.KeyF1)}, true
	}
	if k.Code >= tea.KeyF1 && k.Code <= tea.KeyF12 {
		codes := [...]int{11, 12, 13, 14, 15, 17, 18, 19, 20, 21, 23, 24}
		return tildeKey(codes[k.Code-tea.KeyF1], mod), true
	}
	if ctrl {
		switch c := k.Code; {
		case c >= 'a' && c <= 'z':
			return []byte{byte(c - 'a' + 1)}, true
		case c >= '@' && c <= '_': // @ A-Z [ \ ] ^ _
			return []byte{byte(c - '@')}, true
		case c == '?':
			return []byte{0x7f}, true
		case c == '2':
			return []byte{0x00}, true
		case c >= '3' && c <= '7': // the VT220 digit row: ESC FS GS RS US
			return []byte{byte(c - '3' + 0x1b)}, true
		}
		return nil, false
	}
	if k.Code >= 0x20 && k.Code != 0x7f && k.Code < tea.KeyExtended {
		// A printable key reported without text.
		if k.Mod.Contains(tea.ModShift) && k.ShiftedCode != 0 {
			return []byte(string(k.ShiftedCode)), true
		}
		return []byte(string(k.Code)), true
	}
	return nil, false
}

// xtermModifier is xterm's modifier parameter: 1 + shift(1) + alt(2) + ctrl(4).
func xtermModifier(m tea.KeyMod) int {
	n := 1
	if m.Contains(tea.ModShift) {
		n++
	}
	if m.Contains(tea.ModCtrl) {
		n += 4
	}
	return n
}

func cursorKey(final byte, mod int) []byte {
	if mod == 1 {
		return []byte{0x1b, '[', final}
	}
	return []byte("\x1b[1;" + strconv.Itoa(mod) + string(final))
}

func tildeKey(n, mod int) []byte {
	if mod == 1 {
		return []byte("\x1b[" + strconv.Itoa(n) + "~")
	}
	return []byte("\x1b[" + strconv.Itoa(n) + ";" + strconv.Itoa(mod) + "~")
}
