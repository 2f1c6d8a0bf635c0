package linkloom

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Event is one server-sent event: ID is 0 for "end"; Name is task, run,
// workflow, log or end; Data is the raw JSON.
type Event struct {
	ID   int64
	Name string
	Data json.RawMessage
}

// Log decodes the data of a "log" event.
func (e Event) Log() (LogLine, error) {
	var l LogLine
	err := json.Unmarshal(e.Data, &l)
	return l, err
}

// EventOptions select a stream: Since 0 with FromStart starts at the
// first message, LastEventID resumes after that message (else the stream
// starts with what commits from now on); Kinds, Task and Workflow filter.
// NoReconnect stops at the first lost connection instead of resuming.
type EventOptions struct {
	FromStart   bool
	LastEventID int64
	Kinds       []string
	Task        string
	Workflow    string
	NoReconnect bool
}

// Events streams one run's events and log lines (executionID not ""),
// ending after its "end" event, or every event (never ending), calling fn
// for each.  A lost connection is resumed with Last-Event-ID: nothing is
// lost or repeated.  It returns when the run's stream ends (nil), when fn
// returns an error (that error), or when ctx is done.
func (c *Client) Events(ctx context.Context, executionID string, o EventOptions, fn func(Event) error) error {
	path := "/api/v1/events"
	if executionID != "" {
		path = "/api/v1/executions/" + seg(executionID) + "/events"
	}
	q := url.Values{}
	if o.FromStart {
		q.Set("since", "0")
	}
	if len(o.Kinds) > 0 {
		q.Set("kind", strings.Join(o.Kinds, ","))
	}
	if o.Task != "" {
		q.Set("task", o.Task)
	}
	if o.Workflow != "" {
		q.Set("workflow", o.Workflow)
	}
	last := o.LastEventID
	delay := 100 * time.Millisecond
	for {
		got, ended, err := c.stream(ctx, path, q, last, func(ev Event) error {
			if ev.ID != 0 {
				last = ev.ID
			}
			return fn(ev)
		})
		var ce *ConnectionError
		switch {
		case ended:
			return nil
		case err != nil && !errors.As(err, &ce):
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		case o.NoReconnect:
			return err
		}
		if got {
			delay = 100 * time.Millisecond
		} else if delay *= 2; delay > 5*time.Second {
			delay = 5 * time.Second
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// FollowLogs calls fn for each output line of the run, from the first,
// until the run ends.
func (c *Client) FollowLogs(ctx context.Context, executionID string, fn func(LogLine) error) error {
	return c.Events(ctx, executionID, EventOptions{FromStart: true, Kinds: []string{"log"}},
		func(ev Event) error {
			if ev.Name != "log" {
				return nil
			}
			l, err := ev.Log()
			if err != nil {
				return err
			}
			return fn(l)
		})
}

// stream reads one connection: got says whether any message came, ended
// whether the "end" message did.
func (c *Client) stream(ctx context.Context, path string, q url.Values, last int64,
	fn func(Event) error) (got, ended bool, err error) {
	// A connection silent for longer than idle (heartbeats come every
	// api.stream_heartbeat, 15 s by default) is taken for dead and resumed.
	idle := c.timeout
	if idle < 2*time.Minute {
		idle = 2 * time.Minute
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(idle, cancel)
	defer timer.Stop()
	req, err := c.newRequest(ctx, &request{method: "GET", path: path, query: q})
	if err != nil {
		return false, false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if last > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(last, 10))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, false, &ConnectionError{Op: "GET " + path, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		data, _ := io.ReadAll(resp.Body)
		return false, false, ErrorFromResponse(resp.StatusCode, data)
	}
	body := &idleReader{r: resp.Body, timer: timer, idle: idle}
	err = ParseSSE(body, func(ev Event) error {
		got = true
		if err := fn(ev); err != nil {
			return err
		}
		if ev.Name == "end" {
			ended = true
			return errEnd
		}
		return nil
	})
	if err == errEnd {
		err = nil
	}
	if err == nil && !ended {
		err = &ConnectionError{Op: "GET " + path, Err: io.ErrUnexpectedEOF}
	}
	return got, ended, err
}

var errEnd = errors.New("end of stream")

// idleReader rearms timer on every read that brings data.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.timer.Reset(ir.idle)
	}
	return n, err
}

// ParseSSE reads server-sent events from r and calls fn for each message
// (at its blank line); comments and retry: are skipped.  It returns fn's
// error, a read error, or, when r ends inside a message, a
// *ConnectionError; nil at a clean end of r.
func ParseSSE(r io.Reader, fn func(Event) error) error {
	br := bufio.NewReaderSize(r, 64*1024)
	var ev Event
	var data []string
	ev.Name = "message"
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				if len(data) > 0 || line != "" {
					return &ConnectionError{Op: "event stream", Err: io.ErrUnexpectedEOF}
				}
				return nil
			}
			return &ConnectionError{Op: "event stream", Err: err}
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if len(data) > 0 {
				ev.Data = json.RawMessage(strings.Join(data, "\n"))
				if err := fn(ev); err != nil {
					return err
				}
			}
			ev, data = Event{Name: "message"}, nil
		case strings.HasPrefix(line, ":"):
		default:
			key, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch key {
			case "id":
				ev.ID, _ = strconv.ParseInt(value, 10, 64)
			case "event":
				ev.Name = value
			case "data":
				data = append(data, value)
			}
		}
	}
}
