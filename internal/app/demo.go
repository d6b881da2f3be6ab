package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"

	"github.com/strata-gateway/strata/internal/config"
	"github.com/strata-gateway/strata/internal/emulator"
)

// subcommand holds the flags every subcommand shares: where to listen and
// how to log.
type subcommand struct {
	fs        *flag.FlagSet
	host      *string
	port      *int
	logFormat *string
	logLevel  *string
}

func newSubcommand(name string, port int, stderr io.Writer) *subcommand {
	fs := flag.NewFlagSet("strata "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &subcommand{
		fs:        fs,
		host:      fs.String("host", "127.0.0.1", "address to listen on"),
		port:      fs.Int("port", port, "port to listen on (0 picks a free one)"),
		logFormat: fs.String("log-format", "text", "log format: text or json"),
		logLevel:  fs.String("log-level", "info", "log level: debug, info, warn or error"),
	}
}

// parse reads args; help is true when --help was asked for (and printed).
func (c *subcommand) parse(args []string, stderr io.Writer) (addr string, log *slog.Logger, help bool, err error) {
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", nil, true, nil
		}
		return "", nil, false, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	log, err = newLogger(stderr, *c.logFormat, *c.logLevel)
	if err != nil {
		return "", nil, false, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return net.JoinHostPort(*c.host, strconv.Itoa(*c.port)), log, false, nil
}

// runEmulator serves the Bedrock runtime emulator alone.
func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newSubcommand("emulator", 4001, stderr)
	skipAuth := cmd.fs.Bool("skip-auth", false, "accept unsigned requests (load benchmarks only)")
	addr, log, help, err := cmd.parse(args, stderr)
	if help || err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	em := emulator.New(emulator.Options{Keys: emulator.DemoKeys(), SkipAuth: *skipAuth, Logger: log})
	log.Info("bedrock emulator listening", "url", "http://"+ln.Addr().String(),
		"access_key_id", emulator.DemoAccessKeyID, "region", emulator.DemoRegion)
	fmt.Fprintf(stdout, "Bedrock emulator on http://%s (region %s; it accepts AWS's documented example key pair, %s)\n", ln.Addr(), emulator.DemoRegion, emulator.DemoAccessKeyID)
	return serveUntilDone(ctx, ln, em, log)
}

// demoModels are the models `strata demo` serves: common chat families
// (Converse, and InvokeModel for Cohere Command), embeddings and images.
var demoModels = []struct{ name, model string }{
	{"bedrock-claude", "anthropic.claude-3-5-sonnet-20240620-v1:0"},
	{"bedrock-claude-haiku", "anthropic.claude-3-haiku-20240307-v1:0"},
	{"bedrock-llama", "meta.llama3-70b-instruct-v1:0"},
	{"bedrock-nova", "amazon.nova-pro-v1:0"},
	{"bedrock-mistral", "mistral.mistral-large-2402-v1:0"},
	{"bedrock-cohere", "cohere.command-text-v14"},
	{"bedrock-titan-embeddings", "amazon.titan-embed-text-v2:0"},
	{"bedrock-stability", "stability.stable-diffusion-xl-v1"},
}

// demoConfigPath stands for the demo's config, which is built in.
const demoConfigPath = "(demo)"

// runDemo starts the emulator on a free local port and the gateway in front
// of it: the whole path, signing included, with no AWS account.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	addr, log, help, err := newSubcommand("demo", 4000, stderr).parse(args, stderr)
	if help || err != nil {
		return err
	}
	emLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	em := emulator.New(emulator.Options{Keys: emulator.DemoKeys(), Region: emulator.DemoRegion, Logger: log.With("component", "emulator")})
	emDone := make(chan error, 1)
	go func() { emDone <- serveUntilDone(ctx, emLn, em, log.With("component", "emulator")) }()

	cfg := &config.Config{Path: demoConfigPath, Settings: config.Settings{}}
	for _, m := range demoModels {
		cfg.Models = append(cfg.Models, config.Model{
			Name: m.name, Model: "bedrock/" + m.model, BaseModel: m.model, ModelID: m.model,
			AWS: config.AWS{
				AccessKeyID:     config.Secret(emulator.DemoAccessKeyID),
				SecretAccessKey: config.Secret(emulator.DemoSecretAccessKey),
				Region:          emulator.DemoRegion,
				RuntimeEndpoint: "http://" + emLn.Addr().String(),
			},
		})
	}
	fmt.Fprintf(stdout, `Strata demo: the gateway on http://%[1]s, in front of a local Bedrock emulator
(requests are signed with SigV4 and verified; answers echo your last message).

Try:
  curl http://%[1]s/chat/completions -H 'Content-Type: application/json' \
    -d '{"model": "bedrock-claude", "messages": [{"role": "user", "content": "what llm are you"}]}'

  curl -N http://%[1]s/chat/completions -H 'Content-Type: application/json' \
    -d '{"model": "bedrock-claude", "stream": true, "messages": [{"role": "user", "content": "Hello!"}]}'

  curl http://%[1]s/embeddings -H 'Content-Type: application/json' \
    -d '{"model": "bedrock-titan-embeddings", "input": "The food was delicious and the waiter..."}'

Models: `, addr)
	for i, m := range demoModels {
		if i > 0 {
			fmt.Fprint(stdout, ", ")
		}
		fmt.Fprint(stdout, m.name)
	}
	fmt.Fprint(stdout, "\nPress Ctrl-C to stop.\n")
	err = Serve(ctx, cfg, addr, log)
	if emErr := <-emDone; err == nil {
		err = emErr
	}
	return err
}
