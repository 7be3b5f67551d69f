// Command sessionproxy is a reverse proxy that gives any backend the
// sessions koa-session gives Koa apps. See the README for the protocol.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts the graceful shutdown; a second one stops
	// the process at once, as the signal's default does.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.As(err, new(loggedError)) {
			fmt.Fprintln(os.Stderr, "sessionproxy:", err)
		}
		os.Exit(1)
	}
}
