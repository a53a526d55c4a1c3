// Command ws-drain-helper is copied into opted-in pods by the ws-drain init
// container and run as their preStop hook. It is a static, dependency-free Go
// binary so it runs in any app image: distroless, alpine/musl or scratch.
//
// Subcommands: install DIR, prestop [flags] [-- original argv], sleep DURATION,
// version. The prestop flags are the contract with the webhook (docs/helper.md,
// "Command line") and must not change without changing src/core/helper-argv.ts.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes: 2 for a bad command line (so kubelet reports a failed hook),
// 124 (as timeout(1)) when the watchdog ended a prestop at its hard bound,
// 143 when the helper itself got SIGTERM/SIGINT and stopped early.
const (
	exitOK          = 0
	exitUsage       = 2
	exitWatchdog    = 124
	exitInterrupted = 143
)

// Environment knobs, not flags, so the webhook's argv contract stays exactly
// as documented. WS_DRAIN_PROC_ROOT points at a fixture /proc tree in tests;
// WS_DRAIN_LOG sends log lines to "stderr", "stdout" or a file instead of the
// container's stdout: for running the helper outside a container.
const (
	envProcRoot = "WS_DRAIN_PROC_ROOT"
	envLog      = "WS_DRAIN_LOG"
)

const topUsage = `ws-drain-helper: drains long-lived connections before a pod stops.

Usage:
  ws-drain-helper install DIR
  ws-drain-helper prestop [flags] [-- original exec argv...]
  ws-drain-helper sleep DURATION
  ws-drain-helper version

Run "ws-drain-helper SUBCOMMAND --help" for the flags of a subcommand.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return exitUsage
	}
	// SIGTERM/SIGINT cancel the context; every subcommand returns promptly.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	switch args[0] {
	case "install":
		return runInstall(args[1:], stdout, stderr)
	case "prestop":
		return runPrestop(ctx, args[1:], stdout, stderr)
	case "sleep":
		return runSleep(ctx, args[1:], stdout, stderr)
	case "version":
		return runVersion(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, topUsage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "ws-drain-helper: unknown subcommand %q\n\n%s", args[0], topUsage)
		return exitUsage
	}
}

func procRoot() string {
	if p := os.Getenv(envProcRoot); p != "" {
		return p
	}
	return "/proc"
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && isHelp(args[0]) {
		fmt.Fprint(stdout, "Usage: ws-drain-helper version\n\nPrints the helper's version.\n")
		return exitOK
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "ws-drain-helper version: unexpected argument %q\n", args[0])
		return exitUsage
	}
	fmt.Fprintln(stdout, version)
	return exitOK
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" }
