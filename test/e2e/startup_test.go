package e2e

import (
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// initBudget bounds what the binary's package initialisation allocates,
// which every HostFactory call pays before doing anything. It holds the
// go.mod pins of service/ssm and service/iam: their later releases carry
// schema tables whose initialisation alone allocates 1.4 MB (2.7 ms) and
// 0.64 MB (11 ms on the shared 2-core machine) per process; with ssm's the
// total goes from about 1.9 MB to 3.4 MB, with iam's to 2.65 MB.
const initBudget = 2_500_000

// TestStartupAllocations adds up the bytes each package's initialisation
// allocates (GODEBUG=inittrace=1) and holds them to initBudget.
func TestStartupAllocations(t *testing.T) {
	cmd := exec.Command(binary, "--version")
	cmd.Env = []string{"GODEBUG=inittrace=1"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	line := regexp.MustCompile(`(?m)^init (\S+) @.*, (\d+) bytes, \d+ allocs$`)
	total, heaviest, heaviestBytes := 0, "", 0
	for _, m := range line.FindAllSubmatch(out, -1) {
		n, _ := strconv.Atoi(string(m[2]))
		total += n
		if n > heaviestBytes {
			heaviest, heaviestBytes = string(m[1]), n
		}
	}
	if total == 0 {
		t.Fatalf("no inittrace lines:\n%s", out)
	}
	if total > initBudget {
		t.Errorf("package initialisation allocates %d bytes, over the %d budget; the heaviest is %s (%d bytes)", total, initBudget, heaviest, heaviestBytes)
	}
	t.Logf("package initialisation allocates %d bytes; the heaviest is %s (%d bytes)", total, heaviest, heaviestBytes)
}
