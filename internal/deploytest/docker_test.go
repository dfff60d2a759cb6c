package deploytest

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDockerfile checks the image the Kubernetes manifests run, without a
// container engine: it holds every binary a manifest runs from
// /usr/local/bin, runs as the user the pods require, on a base without a
// libc — so it builds the binaries exactly as the Dockerfile does and
// checks they are static and start.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(moduleRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	stages := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, found %d FROM lines", len(stages))
	}
	if final := stages[len(stages)-1][1]; !strings.Contains(final, "distroless/static") && final != "scratch" {
		t.Errorf("final stage %s: want a static base (distroless/static or scratch)", final)
	}
	goMod, err := os.ReadFile(filepath.Join(moduleRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVer := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(goMod))
	if goVer == nil || !strings.Contains(stages[0][1], "golang:"+goVer[1]) {
		t.Errorf("build stage %s: want golang:%v (go.mod)", stages[0][1], goVer)
	}
	if !regexp.MustCompile(`(?m)^USER 65532(:65532)?$`).MatchString(df) {
		t.Error("no USER 65532: the pods run as 65532 (runAsNonRoot)")
	}
	if !strings.Contains(df, "COPY --from=build /out/ /usr/local/bin/") {
		t.Error("the binaries are not copied to /usr/local/bin/")
	}
	run := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*)$`).FindStringSubmatch(df)
	if run == nil {
		t.Fatal("no RUN CGO_ENABLED=0 go build line")
	}
	args := strings.Fields(run[1])[2:] // after CGO_ENABLED=0 go
	var cmds []string
	for _, a := range args {
		if p, ok := strings.CutPrefix(a, "./cmd/"); ok {
			cmds = append(cmds, p)
		}
	}
	for _, o := range loadKube(t) {
		for _, c := range o.Spec.Template.Spec.Containers {
			for _, word := range c.Command {
				if bin, ok := strings.CutPrefix(word, "/usr/local/bin/"); ok && !slices.Contains(cmds, bin) {
					t.Errorf("%s runs %s, which the Dockerfile does not build", o.file, word)
				}
			}
		}
	}

	// Build as the Dockerfile does, into a temp dir.
	out := t.TempDir() + "/"
	args = fixLdflags(args)
	for i, a := range args {
		if a == "/out/" {
			args[i] = out
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", args...)
	build.Dir = moduleRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	for _, name := range cmds {
		bin := filepath.Join(out, name)
		f, err := elf.Open(bin)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked: it would not start on a base without a libc", name)
			}
		}
		_ = f.Close()
	}
	for _, name := range []string{"syncworker", "publisher", "vccctl"} {
		if !slices.Contains(cmds, name) {
			t.Errorf("the Dockerfile does not build %s", name)
			continue
		}
		if b, err := exec.CommandContext(ctx, filepath.Join(out, name), "--version").CombinedOutput(); err != nil || !strings.HasPrefix(string(b), name+" ") {
			t.Errorf("%s --version: %v: %s", name, err, b)
		}
	}
}

// fixLdflags joins -ldflags="-s and -w" that strings.Fields split.
func fixLdflags(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, `-ldflags="`) && !strings.HasSuffix(a, `"`) && i+1 < len(args) {
			a = "-ldflags=" + strings.TrimPrefix(a, `-ldflags="`) + " " + strings.TrimSuffix(args[i+1], `"`)
			i++
		}
		out = append(out, a)
	}
	return out
}
