// Command release builds ohfp's release artefacts from the checkout it is
// pointed at, for each architecture asked for:
//
//   - ohfp-VERSION-linux-ARCH.tar.gz, laid out like an `ohfp init` folder
//     (scripts/ with the binary, conf/, work/, log/) plus docs, examples,
//     man pages, the systemd unit and the LICENSE;
//   - a .deb and an .rpm (built with nfpm) that install to /opt/ohfp, link
//     /usr/bin/ohfp, and ship the man pages and the systemd unit;
//   - SHA256SUMS.
//
// The same commit builds the same bytes: every time stamp is the commit's,
// files are listed from git in a fixed order, owners are root, and the Go
// build is trimmed of paths and build ids.
//
//	go run . -root ../.. -out ../../dist -arch amd64,arm64
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

func main() {
	root := flag.String("root", "../..", "the ohfp checkout to build")
	out := flag.String("out", "dist", "folder for the artefacts")
	arches := flag.String("arch", "amd64,arm64", "architectures, comma-separated")
	flag.Parse()
	if err := run(context.Background(), *root, *out, strings.Split(*arches, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, root, out string, arches []string) error {
	start := time.Now()
	r, err := newRelease(ctx, root)
	if err != nil {
		return err
	}
	defer r.close()
	if r.dirty {
		fmt.Fprintln(os.Stderr, "release: warning: the work tree has uncommitted changes; the artefacts are not those of commit", r.commit)
	}
	var all []string
	for _, arch := range arches {
		built, err := r.build(ctx, arch, out)
		if err != nil {
			return err
		}
		all = append(all, built...)
	}
	if err := writeSums(out, all); err != nil {
		return err
	}
	for _, a := range all {
		st, err := os.Stat(a)
		if err != nil {
			return err
		}
		fmt.Printf("%-48s %6.1f MiB\n", filepath.Base(a), float64(st.Size())/(1<<20))
	}
	fmt.Printf("ohfp %s (%s) built in %s\n", r.version, r.commit[:12], time.Since(start).Round(100*time.Millisecond))
	return nil
}

// release is one build of one commit.
type release struct {
	root    string
	version string    // semantic version, from the VERSION file
	commit  string    // full hash of HEAD
	date    time.Time // HEAD's commit time: every time stamp in the artefacts
	dirty   bool
	tracked []tracked // docs and examples, as git lists them
	man     []string  // the gzipped man pages, once written
	manDir  string    // their folder, removed by close
}

// close removes what the builds kept between architectures.
func (r *release) close() {
	if r.manDir != "" {
		os.RemoveAll(r.manDir)
	}
}

type tracked struct {
	path string
	mode fs.FileMode
}

// semver is the shape of a semantic version (semver.org), without a "v".
var semver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

func newRelease(ctx context.Context, root string) (*release, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		return nil, err
	}
	r := &release{root: root, version: strings.TrimSpace(string(raw))}
	if !semver.MatchString(r.version) {
		return nil, fmt.Errorf("VERSION holds %q, not a semantic version such as 1.2.3", r.version)
	}
	if r.commit, err = r.git(ctx, "rev-parse", "HEAD"); err != nil {
		return nil, err
	}
	epoch, err := r.git(ctx, "log", "-1", "--format=%ct")
	if err != nil {
		return nil, err
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("commit time %q: %w", epoch, err)
	}
	r.date = time.Unix(secs, 0).UTC()
	status, err := r.git(ctx, "status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return nil, err
	}
	r.dirty = status != ""
	// "100755 <hash> 0\tpath" per file, in git's (byte) order.
	listing, err := r.git(ctx, "ls-files", "--stage", "--", "docs", "examples")
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(listing) {
		meta, p, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if !ok {
			continue
		}
		mode := fs.FileMode(0o644)
		if strings.HasPrefix(meta, "100755") {
			mode = 0o755
		}
		r.tracked = append(r.tracked, tracked{p, mode})
	}
	return r, nil
}

func (r *release) git(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", append([]string{"-C", r.root}, args...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// ldflags stamp the version, commit and commit time into the binary.
func (r *release) ldflags() string {
	return fmt.Sprintf("-s -w -buildid= -X main.version=%s -X main.commit=%s -X main.date=%s",
		r.version, r.commit, r.date.Format(time.RFC3339))
}

// goCmd runs the go command in the checkout.
func (r *release) goCmd(ctx context.Context, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = r.root
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return nil
}

// item is one file of the release, by its path relative to the package
// root (/opt/ohfp, or the tarball's top folder).
type item struct {
	dst  string
	src  string // a file on disk
	mode fs.FileMode
}

// build writes the tarball, .deb and .rpm of arch into out and returns
// their paths.
func (r *release) build(ctx context.Context, arch, out string) ([]string, error) {
	stage, err := os.MkdirTemp("", "ohfp-release-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	bin := filepath.Join(stage, "ohfp")
	if err := r.goCmd(ctx, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + arch},
		"build", "-trimpath", "-buildvcs=false", "-ldflags", r.ldflags(), "-o", bin, "./cmd/ohfp"); err != nil {
		return nil, err
	}
	if r.man == nil {
		// The pages are the same for every architecture; they outlive the
		// stage in a folder of their own.
		if r.manDir, err = os.MkdirTemp("", "ohfp-man-"); err != nil {
			return nil, err
		}
		if r.man, err = r.manPages(ctx, r.manDir); err != nil {
			return nil, err
		}
	}
	items := r.items(bin, r.man)
	tarball := filepath.Join(out, fmt.Sprintf("ohfp-%s-linux-%s.tar.gz", r.version, arch))
	if err := r.tarball(tarball, strings.TrimSuffix(filepath.Base(tarball), ".tar.gz"), items); err != nil {
		return nil, err
	}
	built := []string{tarball}
	for _, format := range []string{"deb", "rpm"} {
		p, err := r.pkg(format, arch, out, items)
		if err != nil {
			return nil, err
		}
		built = append(built, p)
	}
	return built, nil
}

// items lists the release's files: the binary and scripts, the docs and
// examples git tracks, the licence and notes, the systemd unit and the man
// pages.
func (r *release) items(bin string, man []string) []item {
	items := []item{{dst: "scripts/ohfp", src: bin, mode: 0o755}}
	scripts, _ := filepath.Glob(filepath.Join(r.root, "scripts", "*.sh"))
	for _, s := range scripts {
		items = append(items, item{dst: "scripts/" + filepath.Base(s), src: s, mode: 0o755})
	}
	for _, f := range []string{"LICENSE", "README.md", "CHANGELOG.md", "VERSION"} {
		items = append(items, item{dst: f, src: filepath.Join(r.root, f), mode: 0o644})
	}
	for _, t := range r.tracked {
		items = append(items, item{dst: t.path, src: filepath.Join(r.root, t.path), mode: t.mode})
	}
	units, _ := filepath.Glob(filepath.Join(r.root, "packaging", "systemd", "*.service"))
	for _, u := range units {
		items = append(items, item{dst: "systemd/" + filepath.Base(u), src: u, mode: 0o644})
	}
	for _, m := range man {
		items = append(items, item{dst: "man/man1/" + filepath.Base(m), src: m, mode: 0o644})
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.dst, b.dst) })
	return items
}

// manPages writes one gzipped page per command, dated by the commit.
func (r *release) manPages(ctx context.Context, dir string) ([]string, error) {
	if err := r.goCmd(ctx, nil, "run", "-tags", "manpage", "-trimpath", "-ldflags", r.ldflags(), "./cmd/ohfp",
		"manpages", "--date", strconv.FormatInt(r.date.Unix(), 10), dir); err != nil {
		return nil, err
	}
	pages, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil || len(pages) == 0 {
		return nil, fmt.Errorf("no man pages in %s (%v)", dir, err)
	}
	var out []string
	for _, p := range pages {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		// No name and no time in the gzip header, as gzip -n writes it.
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if _, err := zw.Write(data); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p+".gz", b.Bytes(), 0o644); err != nil {
			return nil, err
		}
		out = append(out, p+".gz")
	}
	return out, nil
}

// tarball writes items under top/, with the empty conf, work and log
// folders of an `ohfp init` folder.
func (r *release) tarball(dst, top string, items []item) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	header := func(name string, typ byte, mode fs.FileMode, size int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: typ, Mode: int64(mode), Size: size, ModTime: r.date,
			Uname: "root", Gname: "root", Format: tar.FormatPAX}
	}
	dirs := map[string]bool{}
	var addDir func(d string) error
	addDir = func(d string) error {
		if d == "." || dirs[d] {
			return nil
		}
		if err := addDir(path.Dir(d)); err != nil {
			return err
		}
		dirs[d] = true
		return tw.WriteHeader(header(top+"/"+d+"/", tar.TypeDir, 0o755, 0))
	}
	if err := tw.WriteHeader(header(top+"/", tar.TypeDir, 0o755, 0)); err != nil {
		return err
	}
	for _, d := range []string{"conf", "log", "work"} {
		if err := addDir(d); err != nil {
			return err
		}
	}
	for _, it := range items {
		if err := addDir(path.Dir(it.dst)); err != nil {
			return err
		}
		data, err := os.ReadFile(it.src)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(header(top+"/"+it.dst, tar.TypeReg, it.mode, int64(len(data)))); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// Where the packages put things.
const (
	prefix  = "/opt/ohfp"
	binLink = "/usr/bin/ohfp"
	manDir  = "/usr/share/man/man1"
	unitDir = "/usr/lib/systemd/system"
)

// installPath is where a package installs an item.
func installPath(dst string) string {
	switch {
	case strings.HasPrefix(dst, "man/man1/"):
		return manDir + "/" + path.Base(dst)
	case strings.HasPrefix(dst, "systemd/"):
		return unitDir + "/" + path.Base(dst)
	}
	return prefix + "/" + dst
}

// pkg writes the deb or rpm of arch with nfpm.
func (r *release) pkg(format, arch, out string, items []item) (string, error) {
	var contents files.Contents
	for _, it := range items {
		contents = append(contents, &files.Content{Source: it.src, Destination: installPath(it.dst),
			FileInfo: &files.ContentFileInfo{Mode: it.mode, MTime: r.date}})
	}
	contents = append(contents, &files.Content{Source: prefix + "/scripts/ohfp", Destination: binLink, Type: files.TypeSymlink,
		FileInfo: &files.ContentFileInfo{MTime: r.date}})
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:        "ohfp",
		Arch:        arch,
		Platform:    "linux",
		Version:     r.version,
		Release:     "1",
		Section:     "admin",
		Priority:    "optional",
		Maintainer:  "The ohfp authors <ohfp@users.noreply.github.com>",
		Vendor:      "ohfp",
		License:     "Apache-2.0",
		Description: "HostFactory provider plugin for AWS\nohfp lets IBM Spectrum Symphony HostFactory and the IBM LSF resource\nconnector grow and shrink a grid on AWS: one static binary and five scripts.",
		MTime:       r.date,
		Overridables: nfpm.Overridables{
			Contents: contents,
		},
	})
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", fmt.Errorf("%s: %w", format, err)
	}
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(out, packager.ConventionalFileName(info))
	f, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := packager.Package(info, f); err != nil {
		return "", fmt.Errorf("%s: %w", format, err)
	}
	return dst, f.Close()
}

// writeSums writes SHA256SUMS for the artefacts, in sha256sum's format.
func writeSums(out string, artefacts []string) error {
	var b strings.Builder
	for _, a := range artefacts {
		data, err := os.ReadFile(a)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%x  %s\n", sha256.Sum256(data), filepath.Base(a))
	}
	return os.WriteFile(filepath.Join(out, "SHA256SUMS"), []byte(b.String()), 0o644)
}
