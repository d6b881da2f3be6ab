package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/strata-gateway/strata/internal/config"
)

// errCheckFailed is what strata check returns once it has printed the
// problems it found; main exits with status 1 for it.
var errCheckFailed = errors.New("the config has problems")

// runCheck is `strata check --config FILE`: it loads the file and builds
// its deployments and router the way startup does, then prints every
// problem and warning startup would log, and a summary. It opens no
// listener and no database, and calls no AWS service.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("strata check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "path to the LiteLLM-format config file to check")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage:\n  strata check --config config.yaml\n\nReports every problem in the config file, as startup would, without serving.\nExit status: 0 fine (warnings allowed), 1 problems found, 2 usage error.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil
		}
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (see strata check --help)", ErrUsage, fs.Arg(0))
	}
	if *configPath == "" {
		return fmt.Errorf("%w: give --config config.yaml (see strata check --help)", ErrUsage)
	}

	cfg, err := config.Load(*configPath, os.LookupEnv)
	if err != nil {
		return reportCheck(stdout, *configPath, strings.Split(err.Error(), "\n"), nil)
	}
	found := &findings{}
	log := slog.New(found)
	deployments, err := prepare(ctx, cfg, log)
	if err == nil {
		_, err = newRouter(cfg, deployments, log, nil, nil)
	}
	problems, warnings := found.lines()
	// When no deployment can be built, the error returned repeats the
	// problems already logged one by one.
	if err != nil && len(problems) == 0 {
		problems = strings.Split(err.Error(), "\n")
	}
	if len(problems) > 0 {
		return reportCheck(stdout, cfg.Path, problems, warnings)
	}
	var names []string
	seen := make(map[string]bool)
	for _, d := range deployments {
		if !seen[d.Name] {
			seen[d.Name] = true
			names = append(names, d.Name)
		}
	}
	for _, w := range warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	fmt.Fprintf(stdout, "%s: ok: %d models served (%s), %d deployments, %d warnings\n",
		cfg.Path, len(names), strings.Join(names, ", "), len(deployments), len(warnings))
	return nil
}

// reportCheck prints what a failed check found and returns errCheckFailed.
func reportCheck(w io.Writer, path string, problems, warnings []string) error {
	for _, p := range problems {
		fmt.Fprintln(w, "error:", p)
	}
	for _, wn := range warnings {
		fmt.Fprintln(w, "warning:", wn)
	}
	fmt.Fprintf(w, "%s: %d problems, %d warnings\n", path, len(problems), len(warnings))
	return fmt.Errorf("%s: %w", path, errCheckFailed)
}

// findings is a slog.Handler that keeps the errors and warnings startup
// logs, each as one line: the message, then its attributes.
type findings struct {
	mu       sync.Mutex
	errors   []string
	warnings []string
}

func (f *findings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (f *findings) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
		return true
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Level >= slog.LevelError {
		f.errors = append(f.errors, b.String())
	} else {
		f.warnings = append(f.warnings, b.String())
	}
	return nil
}

// WithAttrs and WithGroup are not used on the startup path; attributes
// given there are dropped rather than misreported.
func (f *findings) WithAttrs([]slog.Attr) slog.Handler { return f }
func (f *findings) WithGroup(string) slog.Handler      { return f }

func (f *findings) lines() (errs, warnings []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errors...), append([]string(nil), f.warnings...)
}
