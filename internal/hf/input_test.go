package hf

import "testing"

func TestShapes(t *testing.T) {
	cases := []struct {
		check func(string) bool
		in    string
		want  bool
	}{
		{isTemplateID, "OnDemand-Minimal_Template-VM", true},
		{isTemplateID, "", false},
		{isTemplateID, "a b", false},
		{isTemplateID, "x;rm", false},
		{isTemplateID, string(make([]byte, 65)), false},
		{isRequestID, "req-5f0c1a2b-0000-4000-8000-000000000000", true},
		{isRequestID, "ret-1", true},
		{isRequestID, "req 1", false},
		{isInstanceID, "i-0e90ecb3228822f6f", true},
		{isInstanceID, "i-0123abcd", true},
		{isInstanceID, "i-0123abc", false},
		{isInstanceID, "i-0E90ECB3228822F6F", false},
		{isInstanceID, "0e90ecb3228822f6f", false},
		{isInstanceID, "i-$(reboot)", false},
		{isHostName, "ip-10-0-57-7.ec2.internal", true},
		{isHostName, "h1", true},
		{isHostName, "-h1", false},
		{isHostName, "h1.", false},
		{isHostName, "h1`id`", false},
		{isHostName, "", false},
	}
	for _, c := range cases {
		if got := c.check(c.in); got != c.want {
			t.Errorf("%q: got %v, want %v", c.in, got, c.want)
		}
	}
}
