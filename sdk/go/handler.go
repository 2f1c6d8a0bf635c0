package linkloom

// Task handlers: the backend side of the callback protocol (loom-exec(8)).
// loom-exec POSTs one envelope per attempt
//
//	{"executionId":"exec-...","taskId":"fetch_data","input":{...},
//	 "attempt":1,"timeout":300000,"callbackUrl":"http://loom:8080/api/v1/callbacks/<token>",
//	 "scheduledTime":"2026-12-07T03:00:00Z"}
//
// with Idempotency-Key: <executionId>/<taskId>/<attempt> and, when the
// workflow has signing:, X-Loom-Timestamp and X-Loom-Signature ("v1=" and
// the hex HMAC-SHA256 of "<timestamp>.<raw body>").

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"
)

// MaxSkew is the replay window loom-workflow(5) advises.
const MaxSkew = 300 * time.Second

// EnvelopeError means the body is not a valid callback envelope.
type EnvelopeError struct{ Reason string }

func (e *EnvelopeError) Error() string { return "linkloom: bad envelope: " + e.Reason }

// TaskError fails the task with an error type of loom-exec(8) ERROR
// CLASSES when a HandlerFunc returns it:
//
//	return linkloom.TaskResult{}, &linkloom.TaskError{Type: "ValidationException", Message: "limit must be positive"}
type TaskError struct {
	Type    string
	Message string
}

func (e *TaskError) Error() string { return e.Type + ": " + e.Message }

// TaskRequest is a parsed callback envelope.  Timeout is zero when the
// envelope had none; CallbackURL is "" without one; ScheduledTime is nil
// unless a schedule or backfill started the run; IdempotencyKey is the
// header's value, else executionId/taskId/attempt.
type TaskRequest struct {
	ExecutionID    string
	TaskID         string
	Input          json.RawMessage
	Attempt        int
	Timeout        time.Duration
	IdempotencyKey string
	CallbackURL    string
	ScheduledTime  *time.Time
	Raw            map[string]json.RawMessage
}

// DecodeInput unmarshals the task's input into v.
func (r *TaskRequest) DecodeInput(v any) error { return json.Unmarshal(r.Input, v) }

// Complete posts the final result of an asynchronous task (one whose
// handler answered Accepted) to the request's callback URL.
func (r *TaskRequest) Complete(ctx context.Context, res TaskResult) error {
	if r.CallbackURL == "" {
		return errors.New("linkloom: the request has no callbackUrl (exec.callback_url is not set)")
	}
	return Complete(ctx, r.CallbackURL, res)
}

// ParseEnvelope parses a callback envelope; h may be nil.  executionId and
// taskId are required; attempt defaults to 1 and input to {}.
func ParseEnvelope(body []byte, h http.Header) (*TaskRequest, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, &EnvelopeError{"the body is not a JSON object"}
	}
	r := &TaskRequest{Raw: raw, Attempt: 1, Input: json.RawMessage("{}")}
	if json.Unmarshal(raw["executionId"], &r.ExecutionID) != nil || r.ExecutionID == "" ||
		json.Unmarshal(raw["taskId"], &r.TaskID) != nil || r.TaskID == "" {
		return nil, &EnvelopeError{"executionId and taskId must be non-empty strings"}
	}
	if v, ok := raw["attempt"]; ok && string(v) != "null" {
		if json.Unmarshal(v, &r.Attempt) != nil || r.Attempt < 1 {
			return nil, &EnvelopeError{"attempt must be a whole number from 1"}
		}
	}
	if v, ok := raw["input"]; ok {
		r.Input = v
	}
	if v, ok := raw["timeout"]; ok && string(v) != "null" {
		var ms float64
		if json.Unmarshal(v, &ms) != nil {
			return nil, &EnvelopeError{"timeout must be a number of milliseconds"}
		}
		r.Timeout = time.Duration(ms * float64(time.Millisecond))
	}
	if v, ok := raw["callbackUrl"]; ok {
		_ = json.Unmarshal(v, &r.CallbackURL)
	}
	if v, ok := raw["scheduledTime"]; ok && string(v) != "null" {
		var s string
		_ = json.Unmarshal(v, &s)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, &EnvelopeError{"scheduledTime is not RFC 3339: " + string(v)}
		}
		r.ScheduledTime = &t
	}
	if k := h.Get("Idempotency-Key"); k != "" {
		r.IdempotencyKey = k
	} else {
		r.IdempotencyKey = fmt.Sprintf("%s/%s/%d", r.ExecutionID, r.TaskID, r.Attempt)
	}
	return r, nil
}

// TaskResult is a task's result in the protocol; build one with Success,
// Failed or Accepted.
type TaskResult struct {
	Status   string     // SUCCESS, FAILED, or RUNNING (accepted)
	Output   any        // any JSON value; nil is null
	Logs     string     // each line becomes a log line of the attempt
	Error    *ErrorInfo // FAILED only
	Duration *int64     // milliseconds, optional
}

// Success is a SUCCESS result.
func Success(output any, logs string) TaskResult {
	return TaskResult{Status: "SUCCESS", Output: output, Logs: logs}
}

// Failed is a FAILED result with an error type (ValidationException,
// TaskFailedException, ...); the message is also the logs.
func Failed(errorType, message string) TaskResult {
	return TaskResult{Status: "FAILED", Logs: message, Error: &ErrorInfo{Type: errorType, Message: message}}
}

// Accepted means the task goes on asynchronously: the answer is 202 and
// the result is posted later with Complete.
func Accepted() TaskResult { return TaskResult{Status: "RUNNING"} }

// MarshalJSON writes the protocol's object.
func (r TaskResult) MarshalJSON() ([]byte, error) {
	m := map[string]any{"status": r.Status}
	if r.Status != "RUNNING" {
		m["output"] = r.Output
	}
	if r.Logs != "" {
		m["logs"] = r.Logs
	}
	if r.Status == "FAILED" {
		e := r.Error
		if e == nil {
			e = &ErrorInfo{Type: "TaskFailedException"}
		}
		m["error"] = e
	}
	if r.Duration != nil {
		m["duration"] = *r.Duration
	}
	return json.Marshal(m)
}

// HMACSHA256Hex is the hex HMAC-SHA256 of data under key (RFC 2104, 4231).
func HMACSHA256Hex(key, data []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}

// Sign is the X-Loom-Signature value of body sent at timestamp (Unix
// seconds, as written in X-Loom-Timestamp).
func Sign(secret []byte, timestamp string, body []byte) string {
	msg := make([]byte, 0, len(timestamp)+1+len(body))
	msg = append(append(append(msg, timestamp...), '.'), body...)
	return "v1=" + HMACSHA256Hex(secret, msg)
}

// VerifySignature reports whether signature is the signature of the raw
// body at timestamp, and the timestamp within maxSkew of now (maxSkew < 0:
// no window).  The comparison is constant-time; the timestamp is MACed as
// written.
func VerifySignature(secret []byte, timestamp, signature string, body []byte, now time.Time, maxSkew time.Duration) bool {
	if timestamp == "" || len(timestamp) > 20 {
		return false
	}
	for _, ch := range timestamp {
		if ch < '0' || ch > '9' {
			return false
		}
	}
	t, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if maxSkew >= 0 {
		d := now.Sub(time.Unix(t, 0))
		if d > maxSkew || d < -maxSkew {
			return false
		}
	}
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}

// Complete posts an asynchronous task's final result (SUCCESS or FAILED)
// to the callbackUrl of its envelope.  An unknown token is ErrNotFound; a
// task that no longer waits (timed out, cancelled, completed) ErrConflict.
func Complete(ctx context.Context, callbackURL string, res TaskResult) error {
	body, err := json.Marshal(res)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", callbackURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return &ConnectionError{Op: "callback", Err: err}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		return ErrorFromResponse(resp.StatusCode, data)
	}
	return nil
}

// HandlerFunc handles one task attempt.  Returning a *TaskError fails the
// task with its type; any other error fails it as TaskFailedException.
type HandlerFunc func(ctx context.Context, req *TaskRequest) (TaskResult, error)

// HandlerOptions configure Handler.  With a Secret (not empty), every
// request must be signed with it, its timestamp within MaxSkew (0: the
// advised 5 minutes; negative: no window); an empty Secret checks
// nothing.  MaxBody bounds the body (0: 16 MiB).
type HandlerOptions struct {
	Secret  []byte
	MaxSkew time.Duration
	MaxBody int64
}

// Run calls fn and returns the HTTP status and the result: 202 for an
// accepted task, else 200.
func Run(ctx context.Context, fn HandlerFunc, req *TaskRequest) (int, TaskResult) {
	t0 := time.Now()
	res, err := fn(ctx, req)
	var te *TaskError
	switch {
	case errors.As(err, &te):
		res = Failed(te.Type, te.Message)
	case err != nil:
		res = Failed("TaskFailedException", err.Error())
	case res.Status == "":
		res.Status = "SUCCESS"
	}
	if res.Status == "RUNNING" {
		return http.StatusAccepted, res
	}
	if res.Duration == nil {
		ms := time.Since(t0).Milliseconds()
		res.Duration = &ms
	}
	return http.StatusOK, res
}

// Handler mounts fn on net/http: it reads the raw body, checks the
// signature when opts.Secret is set (401, an HttpClientError, otherwise),
// parses the envelope (400, ValidationException, when it is not one) and
// answers with fn's result.  Methods other than POST get 405.
func Handler(fn HandlerFunc, opts HandlerOptions) http.Handler {
	skew := opts.MaxSkew
	if skew == 0 {
		skew = MaxSkew
	}
	limit := opts.MaxBody
	if limit <= 0 {
		limit = 16 << 20
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			refuse(w, http.StatusMethodNotAllowed, "HttpClientError", "POST only")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil || int64(len(body)) > limit {
			refuse(w, http.StatusRequestEntityTooLarge, "ValidationException", "body too large or unreadable")
			return
		}
		if len(opts.Secret) > 0 && !VerifySignature(opts.Secret, r.Header.Get("X-Loom-Timestamp"),
			r.Header.Get("X-Loom-Signature"), body, time.Now(), skew) {
			refuse(w, http.StatusUnauthorized, "HttpClientError", "bad or missing signature")
			return
		}
		req, err := ParseEnvelope(body, r.Header)
		if err != nil {
			refuse(w, http.StatusBadRequest, "ValidationException", err.Error())
			return
		}
		status, res := Run(r.Context(), fn, req)
		answer(w, status, res)
	})
}

func refuse(w http.ResponseWriter, status int, errorType, message string) {
	answer(w, status, TaskResult{Status: "FAILED", Error: &ErrorInfo{Type: errorType, Message: message}})
}

func answer(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		log.Printf("linkloom: cannot encode a result: %v", err)
		status, data = http.StatusInternalServerError, []byte(`{"status":"FAILED"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
