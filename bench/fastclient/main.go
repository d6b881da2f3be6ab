// Command fastclient is strata with its calls to Bedrock made by fasthttp's
// client instead of net/http's, everything else unchanged. The load
// benchmark (go run ./bench -lean) builds it to measure the gateway on that
// stack beside the strata binary; it is not a supported way to run Strata.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/strata-gateway/strata/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reload := make(chan os.Signal, 1)
	signal.Notify(reload, syscall.SIGHUP)
	ctx = app.WithReloadSignal(ctx, reload)
	ctx = app.WithBedrockTransport(ctx, newTransport())
	if err := app.Run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "strata:", err)
		if errors.Is(err, app.ErrUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
