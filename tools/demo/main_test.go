package main

import "testing"

func TestListenURL(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"sandbox listening on http://127.0.0.1:8787\n", "http://127.0.0.1:8787"},
		{"sandbox listening on http://127.0.0.1:38003 (any credentials)\n", "http://127.0.0.1:38003"},
	} {
		got, err := listenURL(tc.line)
		if err != nil || got != tc.want {
			t.Errorf("listenURL(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
	if _, err := listenURL("sandbox failed\n"); err == nil {
		t.Error("a line without a URL gave no error")
	}
}
