// Package seed is the seed's user backend written with the Link Loom Go
// SDK: the four tasks of the daily report (fetch_data, validate, process,
// send_email), like contrib/examples/backend/example-backend.c.
// send_email with input.async answers 202 and completes through the
// callback URL; fetch_data fails with HttpServerError (which the seed
// workflow retries) while the attempt is at most input.failAttempts.
// cmd seed-backend serves it.
package seed

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"regexp"
	"strconv"
	"sync"

	"linkloom"
)

// FNV1a is FNV-1a, 64 bits, in 16 hex digits: a stable "checksum" for
// made-up records.
func FNV1a(s string) string {
	h := uint64(1469598103934665603)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return fmt.Sprintf("%016x", h)
}

// number reads a JSON number or a numeric string.
func number(in map[string]any, key string, def float64) float64 {
	switch v := in[key].(type) {
	case float64:
		return v
	case string:
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return def
}

func str(in map[string]any, key, def string) string {
	if s, ok := in[key].(string); ok {
		return s
	}
	return def
}

// Backend serves the four tasks; BaseURL is used in report links.
type Backend struct {
	BaseURL string

	mu         sync.Mutex
	calledBack []string
}

// CalledBack lists the idempotency keys of the asynchronous tasks
// completed through their callback URL.
func (b *Backend) CalledBack() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calledBack...)
}

// Mux mounts the four tasks on a ServeMux, each checking signatures with
// secret when it is not empty.
func (b *Backend) Mux(secret string) *http.ServeMux {
	var opts linkloom.HandlerOptions
	if secret != "" {
		opts.Secret = []byte(secret)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/tasks/fetch-data", linkloom.Handler(b.task(fetchData), opts))
	mux.Handle("/api/tasks/validate", linkloom.Handler(b.task(validate), opts))
	mux.Handle("/api/tasks/process", linkloom.Handler(b.task(b.process), opts))
	mux.Handle("/api/tasks/send-email", linkloom.Handler(b.sendEmail, opts))
	return mux
}

type taskFunc func(req *linkloom.TaskRequest, in map[string]any) (linkloom.TaskResult, error)

// task decodes the input object for fn.
func (b *Backend) task(fn taskFunc) linkloom.HandlerFunc {
	return func(_ context.Context, req *linkloom.TaskRequest) (linkloom.TaskResult, error) {
		in := map[string]any{}
		if err := req.DecodeInput(&in); err != nil {
			return linkloom.TaskResult{}, &linkloom.TaskError{Type: "ValidationException", Message: "the input is not an object"}
		}
		return fn(req, in)
	}
}

func fetchData(req *linkloom.TaskRequest, in map[string]any) (linkloom.TaskResult, error) {
	if float64(req.Attempt) <= number(in, "failAttempts", 0) {
		// an error type the workflow's retryOn names: the task is retried
		return linkloom.TaskResult{}, &linkloom.TaskError{Type: "HttpServerError", Message: "temporarily unavailable (failAttempts)"}
	}
	limit := number(in, "limit", 100)
	if limit < 0 || limit > 1e6 {
		return linkloom.TaskResult{}, &linkloom.TaskError{Type: "ValidationException", Message: "limit must be between 0 and 1000000"}
	}
	date, n := str(in, "date", "today"), int64(limit)
	return linkloom.Success(map[string]any{"recordCount": n, "checksum": FNV1a(fmt.Sprintf("%s/%d", date, n))},
		fmt.Sprintf("Fetched %d records for %s", n, date)), nil
}

var hex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)

func validate(_ *linkloom.TaskRequest, in map[string]any) (linkloom.TaskResult, error) {
	n := number(in, "recordCount", -1)
	sum := str(in, "checksum", "")
	if n < 0 {
		return linkloom.TaskResult{}, &linkloom.TaskError{Type: "ValidationException", Message: "no recordCount in the input"}
	}
	if !hex16.MatchString(sum) {
		return linkloom.TaskResult{}, &linkloom.TaskError{Type: "ValidationException", Message: "the checksum is not 16 hex digits"}
	}
	return linkloom.Success(map[string]any{"valid": true, "recordCount": int64(n)},
		fmt.Sprintf("Validated %d records (checksum %s)", int64(n), sum)), nil
}

func (b *Backend) process(req *linkloom.TaskRequest, in map[string]any) (linkloom.TaskResult, error) {
	n := int64(number(in, "recordCount", 0))
	title := str(in, "title", "Report")
	return linkloom.Success(map[string]any{"processed": n, "title": title,
		"reportUrl": fmt.Sprintf("%s/reports/%s.csv", b.BaseURL, req.ExecutionID)},
		fmt.Sprintf("Processed %d records", n)), nil
}

func mail(req *linkloom.TaskRequest, in map[string]any) linkloom.TaskResult {
	to, subject := str(in, "to", "team@example.com"), str(in, "subject", "Report")
	return linkloom.Success(map[string]any{"sent": true, "to": to,
		"messageId": fmt.Sprintf("<%s@loom.example>", req.ExecutionID)},
		fmt.Sprintf("Sent \"%s\" to %s", subject, to))
}

func (b *Backend) sendEmail(_ context.Context, req *linkloom.TaskRequest) (linkloom.TaskResult, error) {
	in := map[string]any{}
	_ = req.DecodeInput(&in)
	if async, _ := in["async"].(bool); async && req.CallbackURL != "" {
		// answer 202 now; mail and call back from a goroutine, with a
		// context of its own (the request's ends with the answer)
		go func() {
			if err := req.Complete(context.Background(), mail(req, in)); err != nil {
				log.Printf("callback of %s: %v", req.IdempotencyKey, err)
				return
			}
			b.mu.Lock()
			b.calledBack = append(b.calledBack, req.IdempotencyKey)
			b.mu.Unlock()
		}()
		return linkloom.Accepted(), nil
	}
	return mail(req, in), nil
}
