package linkloom

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Error is an error answer of the API (loom-api(8), ERROR RESPONSES):
//
//	{"error":{"code":"not_found","message":"no workflow 'x'","field":"id"}}
//
// Status is the HTTP status; Details holds the problems of
// invalid_workflow (raw JSON), else it is nil.
type Error struct {
	Status  int
	Code    string
	Message string
	Field   string
	Details json.RawMessage
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// Is matches the Err* values by status, so that
// errors.Is(err, ErrNotFound) holds for every 404.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == "" && t.Status == e.Status
}

// Values to test errors with errors.Is, by HTTP status.
var (
	ErrBadRequest    = &Error{Status: 400} // bad_request, invalid_json
	ErrUnauthorized  = &Error{Status: 401} // no token, or not a valid one
	ErrForbidden     = &Error{Status: 403} // the token's scope is too low
	ErrNotFound      = &Error{Status: 404} // no such workflow, run, letter
	ErrConflict      = &Error{Status: 409} // wrong state; also concurrency_limit
	ErrUnprocessable = &Error{Status: 422} // invalid_workflow, invalid_input
	ErrUnavailable   = &Error{Status: 503} // the database is away, a limit
)

// ConnectionError means no answer came: the connection failed or broke.
type ConnectionError struct {
	Op  string
	Err error
}

func (e *ConnectionError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *ConnectionError) Unwrap() error { return e.Err }

// WaitTimeoutError is returned by Client.Wait when the run has not
// finished in time; Execution is the run as last seen.
type WaitTimeoutError struct{ Execution *Execution }

func (e *WaitTimeoutError) Error() string {
	return fmt.Sprintf("execution %s is still %s", e.Execution.ID, e.Execution.Status)
}

// ErrorFromResponse builds the *Error of an error answer: code, message,
// field and details from the JSON body; a body of another shape keeps its
// first 200 bytes as the message, with the code "http_<status>".
func ErrorFromResponse(status int, body []byte) *Error {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	var obj struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Field   *string         `json:"field"`
		Details json.RawMessage `json:"details"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Error) > 0 {
		if json.Unmarshal(env.Error, &obj) == nil && obj.Code != "" {
			e := &Error{Status: status, Code: obj.Code, Message: obj.Message, Details: obj.Details}
			if obj.Field != nil {
				e.Field = *obj.Field
			}
			if string(e.Details) == "null" {
				e.Details = nil
			}
			return e
		}
		var s string
		if json.Unmarshal(env.Error, &s) == nil {
			return &Error{Status: status, Code: fmt.Sprintf("http_%d", status), Message: s}
		}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200]
	}
	if msg == "" {
		msg = fmt.Sprintf("HTTP %d", status)
	}
	return &Error{Status: status, Code: fmt.Sprintf("http_%d", status), Message: msg}
}
