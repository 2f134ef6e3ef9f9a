package aws

import (
	"path/filepath"
	"testing"

	"github.com/ohfp/ohfp/internal/config"
)

// TestProfileDefaultWithoutConfigFiles: the OHFP integration guide's
// "profile: default" loads on a host without shared config files, as with
// an instance role; another profile that is nowhere is refused.
func TestProfileDefaultWithoutConfigFiles(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_PROFILE", "")
	if _, err := SDKConfig(t.Context(), config.AWS{Region: "us-east-1", Profile: "default"}); err != nil {
		t.Errorf("profile default: %v", err)
	}
	if _, err := SDKConfig(t.Context(), config.AWS{Region: "us-east-1", Profile: "production"}); err == nil {
		t.Error("profile production, in no file: loaded")
	}
}
