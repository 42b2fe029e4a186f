// Package fault classifies why a command was refused, so that the API can
// map every domain rule to an error code in one place: the input was wrong
// (Invalid), the thing does not exist (NotFound), or its state does not
// allow the command (Conflict).
package fault

import (
	"errors"
	"fmt"
)

// Kind is the class of a refusal.
type Kind int

const (
	// Unknown is any error that is not a refusal by a rule: an internal failure.
	Unknown Kind = iota
	Invalid
	NotFound
	Conflict
)

// A Code names a kind where a refusal leaves the process: in GraphQL's
// extensions.code and in a reply to a command sent over Kafka. Code and
// KindOfCode are the one mapping between the two.
type Code string

const (
	CodeInternal     Code = "INTERNAL"
	CodeBadUserInput Code = "BAD_USER_INPUT"
	CodeNotFound     Code = "NOT_FOUND"
	CodeConflict     Code = "CONFLICT"
)

var codes = map[Kind]Code{Unknown: CodeInternal, Invalid: CodeBadUserInput, NotFound: CodeNotFound, Conflict: CodeConflict}

// Code is the kind's code; an unknown kind is INTERNAL.
func (k Kind) Code() Code {
	if c, ok := codes[k]; ok {
		return c
	}
	return CodeInternal
}

// KindOfCode is the kind a code names; Unknown for INTERNAL and for any
// code that is not a refusal's.
func KindOfCode(c Code) Kind {
	for k, kc := range codes {
		if kc == c {
			return k
		}
	}
	return Unknown
}

// Error is a refusal with its kind and a message for the caller.
type Error struct {
	Kind Kind
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Is matches another *Error with the same kind and message, so package-level
// sentinels work with errors.Is even when wrapped.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Msg == e.Msg
}

// New returns a refusal of a kind with a finished message, as a reply
// from another process carries it.
func New(kind Kind, msg string) *Error { return &Error{Kind: kind, Msg: msg} }

// Invalidf returns an Invalid refusal, its message formatted as fmt.Sprintf
// does: the command's input breaks a rule.
func Invalidf(format string, args ...any) *Error { return New(Invalid, fmt.Sprintf(format, args...)) }

// NotFoundf returns a NotFound refusal, formatted as fmt.Sprintf does.
func NotFoundf(format string, args ...any) *Error { return New(NotFound, fmt.Sprintf(format, args...)) }

// Conflictf returns a Conflict refusal, formatted as fmt.Sprintf does: the
// current state does not allow the command.
func Conflictf(format string, args ...any) *Error { return New(Conflict, fmt.Sprintf(format, args...)) }

// KindOf finds the refusal kind anywhere in err's chain.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Unknown
}
