// Package fault classifies why a command was refused, so that the API can
// map every domain rule to an error code in one place: the input was wrong
// (Invalid), the thing does not exist (NotFound), or its state does not
// allow the command (Conflict).
package fault

import "errors"

// Kind is the class of a refusal.
type Kind int

const (
	// Unknown is any error that is not a refusal by a rule: an internal failure.
	Unknown Kind = iota
	Invalid
	NotFound
	Conflict
)

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

// Invalidf returns an Invalid refusal: the command's input breaks a rule.
func Invalidf(msg string) *Error { return &Error{Kind: Invalid, Msg: msg} }

// NotFoundf returns a NotFound refusal.
func NotFoundf(msg string) *Error { return &Error{Kind: NotFound, Msg: msg} }

// Conflictf returns a Conflict refusal: the current state does not allow it.
func Conflictf(msg string) *Error { return &Error{Kind: Conflict, Msg: msg} }

// KindOf finds the refusal kind anywhere in err's chain.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Unknown
}
