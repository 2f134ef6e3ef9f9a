package app

import (
	"encoding/json"
	"testing"

	"github.com/ohfp/ohfp/internal/hf"
)

// A panic inside an operation is still answered as the contract says: one
// JSON document with INTERNAL_ERROR, and exit status 1.
func TestPanicIsAnInternalError(t *testing.T) {
	env := func(key string) string {
		if key == "HF_PROVIDER_NAME" {
			panic("unexpected")
		}
		return ""
	}
	out, exit := RunHF(t.Context(), hf.OpGetAvailableTemplates, func() ([]byte, error) { return []byte("{}"), nil }, env)
	var answer struct {
		Message string
		Error   struct{ Code string }
	}
	if err := json.Unmarshal(out, &answer); err != nil {
		t.Fatalf("answer %q: %v", out, err)
	}
	if exit != 1 || answer.Error.Code != "INTERNAL_ERROR" || answer.Message == "" {
		t.Errorf("exit %d, answer %+v; want 1 and INTERNAL_ERROR", exit, answer)
	}
}
