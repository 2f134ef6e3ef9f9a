package cloud

import "testing"

func TestIPName(t *testing.T) {
	cases := []struct{ ip, want string }{
		{"10.0.12.7", "ip-10-0-12-7"},
		{"2600:1f18::5", "2600:1f18::5"},
		{"", ""},
		{"not an ip", ""},
	}
	for _, c := range cases {
		if got := IPName(c.ip); got != c.want {
			t.Errorf("IPName(%q) = %q, want %q", c.ip, got, c.want)
		}
	}
}
