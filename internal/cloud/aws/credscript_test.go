package aws

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCredentialScript: the script's output, in either of IBM's two
// formats, gives the credentials; it is cached (0600) and reused until the
// renew margin passes, or the credentials say they expire.
func TestCredentialScript(t *testing.T) {
	const ini = "[default]\naws_access_key_id = AKIAINI\naws_secret_access_key = secret-ini\naws_session_token = token-ini\n"
	const js = `{"AccessKeyId": "AKIAJSON", "SecretAccessKey": "secret-json", "SessionToken": "token-json", "Expiration": "2030-01-01T00:10:00Z"}`
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, out, key string
		expires        time.Time
	}{
		{"credentials file", ini, "AKIAINI", start.Add(30 * time.Minute)},
		{"JSON, expiring before the margin", js, "AKIAJSON", start.Add(10 * time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			runs := filepath.Join(dir, "runs")
			script := filepath.Join(dir, "creds.sh")
			body := "#!/bin/sh\necho run >>" + runs + "\ncat <<'EOF'\n" + tc.out + "\nEOF\n"
			if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
				t.Fatal(err)
			}
			now := start
			s := scriptCredentials{script: script, cache: filepath.Join(dir, "work", "ohfp-credentials"), margin: 30 * time.Minute, now: func() time.Time { return now }}
			for i := range 2 {
				creds, err := s.Retrieve(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if creds.AccessKeyID != tc.key || creds.SessionToken == "" || !creds.CanExpire {
					t.Fatalf("call %d: %+v", i, creds)
				}
				if i == 0 && !creds.Expires.Equal(tc.expires) {
					t.Errorf("expires %v, want %v", creds.Expires, tc.expires)
				}
			}
			st, err := os.Stat(s.cache)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("cache %v, %v", st, err)
			}
			// Within the margin, and before the credentials expire, no second run.
			now = start.Add(5 * time.Minute)
			if _, err := s.Retrieve(t.Context()); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(runs); strings.Count(string(b), "run") != 1 {
				t.Errorf("the script ran %d times within the margin", strings.Count(string(b), "run"))
			}
			now = tc.expires.Add(time.Second)
			if _, err := s.Retrieve(t.Context()); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(runs); strings.Count(string(b), "run") != 2 {
				t.Errorf("the script did not run again past the margin")
			}
		})
	}
	t.Run("a failing script is an error", func(t *testing.T) {
		dir := t.TempDir()
		script := filepath.Join(dir, "fail.sh")
		if err := os.WriteFile(script, []byte("#!/bin/sh\necho nope >&2\nexit 3\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		s := scriptCredentials{script: script, cache: filepath.Join(dir, "c"), margin: time.Minute, now: time.Now}
		if _, err := s.Retrieve(t.Context()); err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("err %v", err)
		}
	})
}
