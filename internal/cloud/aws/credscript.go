package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// scriptTimeout is the longest a credential script may run, as IBM's Python
// LSF plugin allows it.
const scriptTimeout = 30 * time.Second

// scriptCredentials are the temporary credentials AWS_CREDENTIAL_SCRIPT
// prints, kept in a cache file so that every short-lived ohfp process does
// not run the script again: it runs once the cache is older than the renew
// margin, as IBM's Java LSF plugin renews them (docs/lsf.md).
type scriptCredentials struct {
	script, cache string
	margin        time.Duration
	now           func() time.Time
}

// Retrieve returns the cached credentials while they are fresh (younger
// than the margin, and not past their own expiry), else runs the script
// and caches what it prints.
func (s scriptCredentials) Retrieve(ctx context.Context) (awssdk.Credentials, error) {
	if st, err := os.Stat(s.cache); err == nil {
		if raw, err := os.ReadFile(s.cache); err == nil {
			if creds, err := s.parse(ctx, raw, st.ModTime()); err == nil && s.now().Before(creds.Expires) {
				return creds, nil
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, scriptTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, s.script)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return awssdk.Credentials{}, fmt.Errorf("AWS_CREDENTIAL_SCRIPT %s: %w: %s", s.script, err, bytes.TrimSpace(stderr.Bytes()))
	}
	made := s.now()
	if err := writeAtomic(s.cache, out, made); err != nil {
		return awssdk.Credentials{}, fmt.Errorf("AWS_CREDENTIAL_SCRIPT: caching its credentials: %w", err)
	}
	return s.parse(ctx, out, made)
}

// parse reads what the script printed at made (an INI answer is read
// back from the cache file, which holds it): JSON with AccessKeyId,
// SecretAccessKey, SessionToken and Expiration (IBM's Python plugin, AWS's
// credential_process), else an AWS credentials file's default profile (IBM's
// Java plugin).
func (s scriptCredentials) parse(ctx context.Context, out []byte, made time.Time) (awssdk.Credentials, error) {
	creds := awssdk.Credentials{Source: "AWS_CREDENTIAL_SCRIPT", CanExpire: true, Expires: made.Add(s.margin)}
	if trimmed := bytes.TrimSpace(out); len(trimmed) > 0 && trimmed[0] == '{' {
		var j struct {
			AccessKeyID     string `json:"AccessKeyId"`
			SecretAccessKey string
			SessionToken    string
			Expiration      *time.Time
		}
		if err := json.Unmarshal(trimmed, &j); err != nil {
			return creds, fmt.Errorf("AWS_CREDENTIAL_SCRIPT %s printed JSON that does not read: %w", s.script, err)
		}
		creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken = j.AccessKeyID, j.SecretAccessKey, j.SessionToken
		if j.Expiration != nil && j.Expiration.Before(creds.Expires) {
			creds.Expires = *j.Expiration
		}
	} else {
		sc, err := awsconfig.LoadSharedConfigProfile(ctx, "default", func(o *awsconfig.LoadSharedConfigOptions) {
			o.CredentialsFiles, o.ConfigFiles = []string{s.cache}, []string{}
		})
		if err != nil {
			return creds, fmt.Errorf("AWS_CREDENTIAL_SCRIPT %s printed no [default] credentials: %w", s.script, err)
		}
		c := sc.Credentials
		creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken = c.AccessKeyID, c.SecretAccessKey, c.SessionToken
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return creds, errors.New("AWS_CREDENTIAL_SCRIPT " + s.script + " printed no access key and secret key")
	}
	return creds, nil
}

// writeAtomic replaces path with data, readable by its owner only, dated
// made: the cache's age is its modification time.
func writeAtomic(path string, data []byte, made time.Time) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chtimes(tmp.Name(), made, made); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
