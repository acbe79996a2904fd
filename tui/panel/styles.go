package panel

import (
	"charm.land/lipgloss/v2"
)

// Styles are the dashboard's look, built once. With colour off (NO_COLOR,
// TERM=dumb) every style renders plain text; emphasis stays readable
// through bold, reverse and the text itself.
type Styles struct {
	Color bool

	Title        lipgloss.Style // a panel title
	FocusedTitle lipgloss.Style
	Border       lipgloss.Style // an unfocused panel's border
	FocusBorder  lipgloss.Style // the focused panel's border

	StatusBar lipgloss.Style
	StatusKey lipgloss.Style // a label in the status bar ("boot")
	Footer    lipgloss.Style
	Help      lipgloss.Style

	Muted     lipgloss.Style // timestamps, separators
	OK        lipgloss.Style
	Warn      lipgloss.Style
	Error     lipgloss.Style
	Match     lipgloss.Style // search matches
	Location  lipgloss.Style // file:line in build output
	Selected  lipgloss.Style
	Changed   lipgloss.Style // a value that changed since the last refresh
	Separator lipgloss.Style // the line between boots
}

// NewStyles returns the styles, coloured or not.
func NewStyles(color bool) *Styles {
	s := &Styles{Color: color}
	plain := lipgloss.NewStyle()
	s.Title, s.StatusBar, s.StatusKey, s.Footer, s.Help = plain, plain, plain, plain, plain
	s.Muted, s.OK, s.Warn, s.Location = plain, plain, plain, plain
	s.FocusedTitle = plain.Bold(true)
	s.Error = plain.Bold(true)
	s.Match = plain.Reverse(true)
	s.Selected = plain.Reverse(true)
	s.Changed = plain.Bold(true)
	s.Separator = plain
	s.Border = plain.Border(lipgloss.NormalBorder())
	s.FocusBorder = plain.Border(lipgloss.ThickBorder())
	if !color {
		return s
	}
	var (
		muted  = lipgloss.Color("8")
		accent = lipgloss.Color("12")
		green  = lipgloss.Color("10")
		yellow = lipgloss.Color("11")
		red    = lipgloss.Color("9")
	)
	s.Title = plain.Foreground(muted)
	s.FocusedTitle = plain.Bold(true).Foreground(accent)
	s.Border = s.Border.BorderForeground(muted)
	s.FocusBorder = s.FocusBorder.BorderForeground(accent)
	s.StatusBar = plain.Reverse(true)
	s.StatusKey = plain.Bold(true)
	s.Footer = plain.Foreground(muted)
	s.Help = plain
	s.Muted = plain.Foreground(muted)
	s.OK = plain.Foreground(green)
	s.Warn = plain.Foreground(yellow)
	s.Error = plain.Bold(true).Foreground(red)
	s.Match = plain.Reverse(true).Foreground(yellow)
	s.Location = plain.Underline(true).Foreground(accent)
	s.Separator = plain.Foreground(muted)
	s.Changed = plain.Bold(true).Foreground(yellow)
	return s
}
