package network

// permanentError marks an error that the same request meets again on every
// retry until the user changes something (the subnet is full, another
// project forwards the port). The supervisor asks through Permanent, so
// `up --wait` fails at once instead of waiting out its timeout.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// Permanent says a retry cannot fix the error.
func (permanentError) Permanent() bool { return true }

func permanent(err error) error { return permanentError{err} }
