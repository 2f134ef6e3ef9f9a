package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// arches are the architectures to check: the host's in `make test`, both
// in `make release` (OHFP_RELEASE_ARCHES=amd64,arm64).
func arches() []string {
	if a := os.Getenv("OHFP_RELEASE_ARCHES"); a != "" {
		return strings.Split(a, ",")
	}
	return []string{runtime.GOARCH}
}

var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// TestRelease builds each architecture twice, checks the two builds are
// the same bytes, installs the .deb into a scratch root with dpkg, runs
// the installed ohfp, and checks what each artefact holds. With
// OHFP_RELEASE_DIST set (make release), the artefacts there must be the
// same bytes too.
func TestRelease(t *testing.T) {
	ctx := context.Background()
	r, err := newRelease(ctx, "../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	for _, arch := range arches() {
		t.Run(arch, func(t *testing.T) {
			first, err := r.build(ctx, arch, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			second, err := r.build(ctx, arch, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			dist := os.Getenv("OHFP_RELEASE_DIST")
			for i := range first {
				a, b := read(t, first[i]), read(t, second[i])
				if !bytes.Equal(a, b) {
					t.Errorf("%s: two builds of one commit differ", filepath.Base(first[i]))
				}
				if dist != "" && !bytes.Equal(a, read(t, filepath.Join(dist, filepath.Base(first[i])))) {
					t.Errorf("%s in %s is not what this commit builds", filepath.Base(first[i]), dist)
				}
			}
			tarball, deb, rpm := first[0], first[1], first[2]
			checkTarball(t, r, arch, tarball)
			checkDeb(t, r, arch, deb)
			checkRPM(t, arch, rpm)
		})
	}
}

// wantInstalled are paths every package must install.
var wantInstalled = []string{
	"/opt/ohfp/scripts/ohfp",
	"/opt/ohfp/scripts/getAvailableTemplates.sh",
	"/opt/ohfp/scripts/requestMachines.sh",
	"/opt/ohfp/scripts/getRequestStatus.sh",
	"/opt/ohfp/scripts/requestReturnMachines.sh",
	"/opt/ohfp/scripts/getReturnRequests.sh",
	"/opt/ohfp/scripts/invoke_provider.sh",
	"/opt/ohfp/LICENSE",
	"/opt/ohfp/CHANGELOG.md",
	"/opt/ohfp/docs/reference.md",
	"/opt/ohfp/docs/operations.md",
	"/opt/ohfp/examples/ibm/awsprov_templates.json",
	"/opt/ohfp/examples/ego/ohfp-serve.xml",
	"/usr/bin/ohfp",
	"/usr/share/man/man1/ohfp.1.gz",
	"/usr/share/man/man1/ohfp-serve.1.gz",
	"/usr/lib/systemd/system/ohfp-serve@.service",
}

func checkDeb(t *testing.T, r *release, arch, deb string) {
	t.Helper()
	fields := command(t, "dpkg-deb", "--field", deb, "Package", "Version", "Architecture")
	for _, want := range []string{"Package: ohfp", "Version: " + r.version + "-1", "Architecture: " + arch} {
		if !strings.Contains(fields, want) {
			t.Errorf("deb control lacks %q:\n%s", want, fields)
		}
	}
	scratch := t.TempDir()
	command(t, "dpkg", "-x", deb, scratch)
	for _, p := range wantInstalled {
		if _, err := os.Lstat(filepath.Join(scratch, p)); err != nil {
			t.Errorf("deb does not install %s", p)
		}
	}
	if target, err := os.Readlink(filepath.Join(scratch, "usr/bin/ohfp")); err != nil || target != "/opt/ohfp/scripts/ohfp" {
		t.Errorf("/usr/bin/ohfp links to %q (%v), want /opt/ohfp/scripts/ohfp", target, err)
	}
	bin := filepath.Join(scratch, "opt/ohfp/scripts/ohfp")
	checkBinary(t, bin, arch)
	if arch != runtime.GOARCH {
		return
	}
	out := command(t, bin, "version")
	for _, want := range []string{"ohfp " + r.version, "commit: " + r.commit, "go: go1.", "built: " + r.date.Format("2006-01-02T15:04:05Z")} {
		if !strings.Contains(out, want) {
			t.Errorf("installed ohfp version printed\n%s\nwant a line %q", out, want)
		}
	}
	if flag := command(t, bin, "--version"); flag != out {
		t.Errorf("ohfp --version printed\n%s\nbut ohfp version\n%s", flag, out)
	}
}

func checkRPM(t *testing.T, arch, rpm string) {
	t.Helper()
	listed := strings.Fields(command(t, "rpm", "-qlp", rpm))
	for _, p := range wantInstalled {
		if !slices.Contains(listed, p) {
			t.Errorf("rpm does not install %s", p)
		}
	}
	want := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[arch]
	if got := command(t, "rpm", "-qp", "--queryformat", "%{ARCH}", rpm); got != want {
		t.Errorf("rpm architecture %q, want %q", got, want)
	}
}

// checkTarball checks the layout of an `ohfp init` folder and runs the
// binary in it.
func checkTarball(t *testing.T, r *release, arch, tarball string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(read(t, tarball)))
	if err != nil {
		t.Fatal(err)
	}
	top := "ohfp-" + r.version + "-linux-" + arch + "/"
	var names []string
	tr := tar.NewReader(zr)
	dir := t.TempDir()
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == top+"scripts/ohfp" {
			data, _ := io.ReadAll(tr)
			if err := os.WriteFile(filepath.Join(dir, "ohfp"), data, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range []string{"conf/", "work/", "log/", "scripts/ohfp", "scripts/requestMachines.sh", "LICENSE",
		"docs/reference.md", "examples/ibm/awsprov_config.json", "man/man1/ohfp.1.gz", "systemd/ohfp-serve@.service"} {
		if !slices.Contains(names, top+p) {
			t.Errorf("tarball lacks %s", top+p)
		}
	}
	checkBinary(t, filepath.Join(dir, "ohfp"), arch)
}

// checkBinary checks that the binary is a static Linux ELF for arch.
func checkBinary(t *testing.T, path, arch string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	if f.Machine != elfMachine[arch] {
		t.Errorf("%s is built for %v, want %v", path, f.Machine, elfMachine[arch])
	}
	if interp := f.Section(".interp"); interp != nil {
		t.Errorf("%s is dynamically linked", path)
	}
}

// TestServiceUnitHardened asks systemd's own analyser how exposed the
// shipped unit is; 100 (10.0) is fully exposed; under 20 (2.0) is what systemd calls OK.
func TestServiceUnitHardened(t *testing.T) {
	dir := t.TempDir()
	unit := filepath.Join(dir, "ohfp-serve@awsinst.service")
	if err := os.WriteFile(unit, read(t, "../../packaging/systemd/ohfp-serve@.service"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := command(t, "systemd-analyze", "security", "--offline=yes", "--threshold=20", unit)
	if !strings.Contains(out, "Overall exposure level") {
		t.Errorf("systemd-analyze security:\n%s", out)
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func command(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
