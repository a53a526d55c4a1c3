package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ws-drain/ws-drain/helper/internal/drain"
)

const sleepUsage = `Usage: ws-drain-helper sleep DURATION

Sleeps DURATION (Go duration like 20s, 1m30s, or bare seconds), then exits 0.
For images without a sleep binary. SIGTERM ends it early (exit 143).
`

func runSleep(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && isHelp(args[0]) {
		fmt.Fprint(stdout, sleepUsage)
		return exitOK
	}
	if len(args) != 1 {
		fmt.Fprintf(stderr, "ws-drain-helper sleep: want exactly one DURATION argument, got %d\n\n%s", len(args), sleepUsage)
		return exitUsage
	}
	d, err := parseDuration(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "ws-drain-helper sleep: %v\n", err)
		return exitUsage
	}
	if !drain.Sleep(ctx, d) {
		return exitInterrupted
	}
	return exitOK
}
