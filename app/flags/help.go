package flags

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
)

// Help is what Parse and ParseArgs return for -h or --help: the command's
// usage, which whoever ran it asked for. It is not a failure, so Exit prints
// it to standard output and the command exits 0, as other command-line
// tools do. It matches flag.ErrHelp with errors.Is.
type Help struct {
	Usage string
}

func (h *Help) Error() string { return flag.ErrHelp.Error() }
func (h *Help) Unwrap() error { return flag.ErrHelp }

// ParseArgs parses args into fs, without environment fallbacks (Parse
// reads those first), and refuses arguments that are not flags. It prints
// nothing: for -h or --help it returns a *Help holding what fs.Usage
// writes (to fs.Output()), and any other mistake is only returned, so that
// Exit says it in one line and points to -h rather than printing every
// flag after it.
func ParseArgs(fs *flag.FlagSet, args []string) error {
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	err := fs.Parse(args)
	fs.SetOutput(io.Discard)
	if errors.Is(err, flag.ErrHelp) {
		return &Help{Usage: usage.String()}
	}
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// Exit reports err, why command's flags could not be used, and returns the
// process's exit code. The usage asked for with -h or --help goes to
// stdout, with 0; any other error goes to stderr with a pointer to the
// usage, with 2. Every command ends a failed parse here, so they all
// answer -h and mistakes the same way.
func Exit(command string, err error, stdout, stderr io.Writer) int {
	var help *Help
	if errors.As(err, &help) {
		fmt.Fprint(stdout, help.Usage)
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\nRun \"%s -h\" for the flags.\n", command, err, command)
	return 2
}
