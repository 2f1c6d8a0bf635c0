package linkloom

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Client talks to one loom-api, over TCP or its Unix socket.  It is safe
// for concurrent use.
type Client struct {
	base    string // scheme://host[:port][/prefix], no trailing slash
	token   string
	http    *http.Client
	timeout time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends Authorization: Bearer TOKEN with every request (the
// default is $LOOM_TOKEN).
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithSocket connects to loom-api's Unix socket at path instead of the
// URL's host (New("unix:/path") does the same).
func WithSocket(path string) Option {
	return func(c *Client) {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		c.http = &http.Client{Transport: tr}
	}
}

// WithHTTPClient uses hc (its Transport, TLS settings, ...) for requests.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithTimeout bounds each request (long polls add their own wait); the
// default is 30 s.  Event streams are bounded by their context only.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// New makes a client of the loom-api at baseURL: "http://host:port",
// "https://...", or "unix:/path/to/api.sock"; "" means $LOOM_API, else
// http://127.0.0.1:8080.
func New(baseURL string, opts ...Option) (*Client, error) {
	if baseURL == "" {
		baseURL = os.Getenv("LOOM_API")
	}
	if baseURL == "" {
		baseURL = "http://127.0.0.1:8080"
	}
	c := &Client{token: os.Getenv("LOOM_TOKEN"), http: &http.Client{}, timeout: 30 * time.Second}
	if strings.HasPrefix(baseURL, "unix:") {
		WithSocket(strings.TrimPrefix(baseURL, "unix:"))(c)
		baseURL = "http://localhost"
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("linkloom: not an http(s) URL: %q", baseURL)
	}
	c.base = strings.TrimRight(baseURL, "/")
	for _, o := range opts {
		o(c)
	}
	// redirects are answers to report, not to follow behind the caller's back
	hc := *c.http
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = &hc
	return c, nil
}

// CallOption changes one call.
type CallOption func(*callOpts)

type callOpts struct {
	token *string
	force bool
}

// WithCallToken authenticates this call alone with token, e.g. a trigger
// token limited to one workflow.
func WithCallToken(token string) CallOption { return func(o *callOpts) { o.token = &token } }

// Force triggers a paused workflow.
func Force() CallOption { return func(o *callOpts) { o.force = true } }

// request is one API call: body (when not nil) is sent with contentType;
// the answer is decoded into out (when not nil).
type request struct {
	method, path string
	query        url.Values
	body         []byte
	contentType  string
	token        *string
	extraWait    time.Duration
}

func (c *Client) newRequest(ctx context.Context, r *request) (*http.Request, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "linkloom-go/0.1")
	if r.body != nil {
		req.Header.Set("Content-Type", r.contentType)
	}
	tok := c.token
	if r.token != nil {
		tok = *r.token
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req, nil
}

func (c *Client) do(ctx context.Context, r *request, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout+r.extraWait)
	defer cancel()
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return err
	}
	op := r.method + " " + r.path
	resp, err := c.http.Do(req)
	if err != nil {
		return &ConnectionError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return &ConnectionError{Op: op, Err: err}
	}
	if resp.StatusCode >= 400 {
		return ErrorFromResponse(resp.StatusCode, data)
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("linkloom: %s: answer is not the JSON expected: %w", op, err)
	}
	return nil
}

func jsonBody(v any) ([]byte, string) {
	b, _ := json.Marshal(v)
	return b, "application/json"
}

func seg(s string) string { return url.PathEscape(s) }

// ---- workflows ----------------------------------------------------------

// ApplyWorkflow applies (registers or updates) a workflow given as YAML or
// JSON text.  An invalid workflow is an *Error with status 422 and code
// invalid_workflow, every problem in Details.
func (c *Client) ApplyWorkflow(ctx context.Context, text []byte, opts ...CallOption) (*Applied, error) {
	o := collect(opts)
	var out Applied
	err := c.do(ctx, &request{method: "POST", path: "/api/v1/workflows", body: text,
		contentType: "application/yaml", token: o.token}, &out)
	return &out, err
}

// ApplyWorkflowObject applies a workflow given as a Go value (a map or a
// struct), sent as JSON.
func (c *Client) ApplyWorkflowObject(ctx context.Context, workflow any, opts ...CallOption) (*Applied, error) {
	b, err := json.Marshal(workflow)
	if err != nil {
		return nil, err
	}
	o := collect(opts)
	var out Applied
	err = c.do(ctx, &request{method: "POST", path: "/api/v1/workflows", body: b,
		contentType: "application/json", token: o.token}, &out)
	return &out, err
}

// ApplyWorkflowFile applies the workflow file at path.
func (c *Client) ApplyWorkflowFile(ctx context.Context, path string, opts ...CallOption) (*Applied, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return c.ApplyWorkflow(ctx, text, opts...)
}

// ListWorkflows lists every workflow that is not deleted.
func (c *Client) ListWorkflows(ctx context.Context) ([]Workflow, error) {
	var out struct {
		Workflows []Workflow `json:"workflows"`
	}
	err := c.do(ctx, &request{method: "GET", path: "/api/v1/workflows"}, &out)
	return out.Workflows, err
}

// GetWorkflow describes one workflow, with its Spec and Definition.
func (c *Client) GetWorkflow(ctx context.Context, id string) (*Workflow, error) {
	var out Workflow
	err := c.do(ctx, &request{method: "GET", path: "/api/v1/workflows/" + seg(id)}, &out)
	return &out, err
}

// Trigger starts a run of the workflow's current version with input as
// its params (nil: none).  A concurrency policy that refuses the run is an
// *Error with status 409 and code concurrency_limit.
func (c *Client) Trigger(ctx context.Context, id string, input map[string]any, opts ...CallOption) (*Triggered, error) {
	o := collect(opts)
	if input == nil {
		input = map[string]any{}
	}
	b, ct := jsonBody(map[string]any{"input": input})
	r := &request{method: "POST", path: "/api/v1/workflows/" + seg(id) + "/trigger",
		body: b, contentType: ct, token: o.token}
	if o.force {
		r.query = url.Values{"force": {"true"}}
	}
	var out Triggered
	err := c.do(ctx, r, &out)
	return &out, err
}

// PauseWorkflow pauses the workflow: triggers need Force() until it is
// unpaused.  Changed is false when it already was.
func (c *Client) PauseWorkflow(ctx context.Context, id string) (*Workflow, error) {
	var out Workflow
	err := c.do(ctx, &request{method: "POST", path: "/api/v1/workflows/" + seg(id) + "/pause"}, &out)
	return &out, err
}

// UnpauseWorkflow clears the workflow's paused flag.
func (c *Client) UnpauseWorkflow(ctx context.Context, id string) (*Workflow, error) {
	var out Workflow
	err := c.do(ctx, &request{method: "POST", path: "/api/v1/workflows/" + seg(id) + "/unpause"}, &out)
	return &out, err
}

// ---- executions ---------------------------------------------------------

// GetExecution gets one run with its tasks.
func (c *Client) GetExecution(ctx context.Context, id string) (*Execution, error) {
	return c.GetExecutionWait(ctx, id, 0)
}

// GetExecutionWait is GetExecution with the API's long poll: the answer
// comes once the run is finished or wait (at most 5m) has passed.
func (c *Client) GetExecutionWait(ctx context.Context, id string, wait time.Duration) (*Execution, error) {
	r := &request{method: "GET", path: "/api/v1/executions/" + seg(id), extraWait: wait}
	if wait > 0 {
		ms := wait.Milliseconds()
		if ms < 1 {
			ms = 1
		}
		r.query = url.Values{"wait": {strconv.FormatInt(ms, 10) + "ms"}}
	}
	var out Execution
	err := c.do(ctx, r, &out)
	return &out, err
}

// Tasks gets the run's tasks, in topological order.
func (c *Client) Tasks(ctx context.Context, id string) ([]TaskState, error) {
	ex, err := c.GetExecution(ctx, id)
	if err != nil {
		return nil, err
	}
	return ex.Tasks, nil
}

// Wait waits for the run to be SUCCESS, FAILED or CANCELLED, with long
// polls of at most 30 s; after timeout it returns a *WaitTimeoutError.
// Against a server that answers at once whatever ?wait says, it polls
// once a second.
func (c *Client) Wait(ctx context.Context, id string, timeout time.Duration) (*Execution, error) {
	deadline := time.Now().Add(timeout)
	for {
		t0 := time.Now()
		asked := deadline.Sub(t0)
		if asked > 30*time.Second {
			asked = 30 * time.Second
		}
		if asked < time.Millisecond {
			asked = time.Millisecond
		}
		ex, err := c.GetExecutionWait(ctx, id, asked)
		if err != nil {
			return nil, err
		}
		if ex.Finished() {
			return ex, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return ex, &WaitTimeoutError{Execution: ex}
		}
		if time.Since(t0) < asked/2 {
			// a server (or proxy) that ignores ?wait: poll gently
			if left > time.Second {
				left = time.Second
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(left):
			}
		}
	}
}

// ExecutionFilter selects executions (every field optional): Since and
// Until take ISO 8601 or a duration before now ("2d"); Limit is the page
// size (1 to 1000).
type ExecutionFilter struct {
	Workflow, Status, Since, Until string
	Limit                          int
}

func (f ExecutionFilter) values() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"workflow": f.Workflow, "status": f.Status,
		"since": f.Since, "until": f.Until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// ListExecutionsPage gets one page of executions, newest first; cursor is
// the NextCursor of the previous page ("" for the first).
func (c *Client) ListExecutionsPage(ctx context.Context, f ExecutionFilter, cursor string) (*ExecutionPage, error) {
	q := f.values()
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var out ExecutionPage
	err := c.do(ctx, &request{method: "GET", path: "/api/v1/executions", query: q}, &out)
	return &out, err
}

// ExecutionIterator walks every page of a listing:
//
//	it := c.Executions(ctx, linkloom.ExecutionFilter{Workflow: "daily-report"})
//	for it.Next() {
//		ex := it.Execution()
//	}
//	if err := it.Err(); err != nil { ... }
type ExecutionIterator struct {
	c      *Client
	ctx    context.Context
	filter ExecutionFilter
	page   []Execution
	cursor string
	cur    Execution
	done   bool
	err    error
}

// Executions iterates over every execution that matches f, following
// the cursors page by page (each execution once, even while runs start).
// A server that gives the same cursor twice ends it with an *Error of
// code bad_cursor rather than looping.
func (c *Client) Executions(ctx context.Context, f ExecutionFilter) *ExecutionIterator {
	return &ExecutionIterator{c: c, ctx: ctx, filter: f}
}

// Next moves to the next execution, fetching a page when needed; false at
// the end or on an error (see Err).
func (it *ExecutionIterator) Next() bool {
	for len(it.page) == 0 {
		if it.done || it.err != nil {
			return false
		}
		p, err := it.c.ListExecutionsPage(it.ctx, it.filter, it.cursor)
		if err != nil {
			it.err = err
			return false
		}
		it.page = p.Executions
		switch {
		case p.NextCursor == nil || *p.NextCursor == "":
			it.done = true
		case *p.NextCursor == it.cursor:
			it.err = &Error{Code: "bad_cursor", Message: "the server gave the same cursor twice"}
			it.done = true
		default:
			it.cursor = *p.NextCursor
		}
	}
	it.cur, it.page = it.page[0], it.page[1:]
	return true
}

// Execution is the current execution.
func (it *ExecutionIterator) Execution() Execution { return it.cur }

// Err is the error that stopped the iteration, if any.
func (it *ExecutionIterator) Err() error { return it.err }

// Cancel asks for the run to be cancelled (answered at once; follow it
// with Wait).  A finished run is an ErrConflict.
func (c *Client) Cancel(ctx context.Context, id string) (*Execution, error) {
	var out Execution
	err := c.do(ctx, &request{method: "POST", path: "/api/v1/executions/" + seg(id) + "/cancel"}, &out)
	return &out, err
}

// Retry with fromFailed runs the failed, cancelled and skipped tasks of a
// FAILED or CANCELLED run again in the same run (the answer has Request);
// without, it starts a new run with the same params (the answer has
// ExecutionID and RetryOf).
func (c *Client) Retry(ctx context.Context, id string, fromFailed bool) (*Execution, error) {
	b, ct := jsonBody(map[string]bool{"fromFailed": fromFailed})
	var out Execution
	err := c.do(ctx, &request{method: "POST", path: "/api/v1/executions/" + seg(id) + "/retry",
		body: b, contentType: ct}, &out)
	return &out, err
}

// RerunTask runs one finished task again; with downstream, every finished
// task that depends on it as well.
func (c *Client) RerunTask(ctx context.Context, id, taskID string, downstream bool) (*Execution, error) {
	b, ct := jsonBody(map[string]bool{"downstream": downstream})
	var out Execution
	err := c.do(ctx, &request{method: "POST",
		path: "/api/v1/executions/" + seg(id) + "/tasks/" + seg(taskID) + "/rerun",
		body: b, contentType: ct}, &out)
	return &out, err
}

// Logs gets one page of the run's output lines: task "" for every task,
// after 0 from the first, limit 0 for the default (1000).
func (c *Client) Logs(ctx context.Context, id, task string, after int64, limit int) (*LogPage, error) {
	q := url.Values{}
	if task != "" {
		q.Set("task", task)
	}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out LogPage
	err := c.do(ctx, &request{method: "GET", path: "/api/v1/executions/" + seg(id) + "/logs", query: q}, &out)
	return &out, err
}

// ---- dead letters ---------------------------------------------------------

// DeadLetterFilter selects dead letters; only open ones unless All.
type DeadLetterFilter struct {
	Workflow, Execution string
	All                 bool
	Limit               int
}

// DeadLetters lists dead letters, newest first.
func (c *Client) DeadLetters(ctx context.Context, f DeadLetterFilter) ([]DeadLetter, error) {
	q := url.Values{}
	if f.Workflow != "" {
		q.Set("workflow", f.Workflow)
	}
	if f.Execution != "" {
		q.Set("execution", f.Execution)
	}
	if f.All {
		q.Set("all", "true")
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out struct {
		DeadLetters []DeadLetter `json:"deadLetters"`
	}
	err := c.do(ctx, &request{method: "GET", path: "/api/v1/dead-letters", query: q}, &out)
	return out.DeadLetters, err
}

// GetDeadLetter gets one letter, with Request, TaskState and ExecutionStatus.
func (c *Client) GetDeadLetter(ctx context.Context, id int64) (*DeadLetter, error) {
	var out DeadLetter
	err := c.do(ctx, &request{method: "GET", path: "/api/v1/dead-letters/" + strconv.FormatInt(id, 10)}, &out)
	return &out, err
}

// ReplayDeadLetter runs the dead task again with a fresh attempt budget.
func (c *Client) ReplayDeadLetter(ctx context.Context, id int64) (*Execution, error) {
	var out Execution
	err := c.do(ctx, &request{method: "POST",
		path: "/api/v1/dead-letters/" + strconv.FormatInt(id, 10) + "/replay"}, &out)
	return &out, err
}

// DiscardDeadLetter closes the letter without running anything.
func (c *Client) DiscardDeadLetter(ctx context.Context, id int64) (*DeadLetter, error) {
	var out DeadLetter
	err := c.do(ctx, &request{method: "POST",
		path: "/api/v1/dead-letters/" + strconv.FormatInt(id, 10) + "/discard"}, &out)
	return &out, err
}

func collect(opts []CallOption) callOpts {
	var o callOpts
	for _, f := range opts {
		f(&o)
	}
	return o
}
