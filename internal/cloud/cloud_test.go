package cloud

import "testing"

func TestIPName(t *testing.T) {
	for ip, want := range map[string]string{
		"10.0.12.7":    "ip-10-0-12-7",
		"2600:1f18::5": "2600:1f18::5",
		"":             "",
		"not an ip":    "",
	} {
		if got := IPName(ip); got != want {
			t.Errorf("IPName(%q) = %q, want %q", ip, got, want)
		}
	}
}
