package flags

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// Listen opens a TCP socket on addr, the value of the flag named flagName
// (the server's and the broker's --addr). When another process holds the
// address the error says so and names the flag to change, so whoever
// started the command knows what to do without decoding "bind: address
// already in use".
func Listen(flagName, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("listen on %s: the address is already in use by another process (choose another with --%s): %w", addr, flagName, err)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}
