package linkloom

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestErrorShape(t *testing.T) {
	e := ErrorFromResponse(404, []byte(`{"error":{"code":"not_found","message":"no workflow 'x'","field":"id"}}`))
	if e.Status != 404 || e.Code != "not_found" || e.Message != "no workflow 'x'" || e.Field != "id" {
		t.Fatalf("%+v", e)
	}
	if e.Error() != "404 not_found: no workflow 'x'" {
		t.Fatal(e.Error())
	}
	var err error = e
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
		t.Fatal("errors.Is by status")
	}
}

func TestErrorDetailsAndConcurrencyLimit(t *testing.T) {
	e := ErrorFromResponse(422, []byte(`{"error":{"code":"invalid_workflow","message":"2 errors","field":null,"details":[{"line":7},{"line":11}]}}`))
	if !errors.Is(e, ErrUnprocessable) || !strings.HasPrefix(string(e.Details), "[{") || e.Field != "" {
		t.Fatalf("%+v", e)
	}
	e = ErrorFromResponse(409, []byte(`{"error":{"code":"concurrency_limit","message":"a run is live","field":null}}`))
	if !errors.Is(e, ErrConflict) || e.Code != "concurrency_limit" || e.Details != nil {
		t.Fatalf("%+v", e)
	}
}

func TestErrorNotTheAPIShape(t *testing.T) {
	e := ErrorFromResponse(400, []byte("<html>Bad Request</html>"))
	if e.Code != "http_400" || e.Message != "<html>Bad Request</html>" {
		t.Fatalf("%+v", e)
	}
	if e = ErrorFromResponse(502, nil); e.Message != "HTTP 502" {
		t.Fatalf("%+v", e)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	c, _ := New("http://" + addr)
	_, err := c.ListWorkflows(context.Background())
	var ce *ConnectionError
	if !errors.As(err, &ce) {
		t.Fatalf("%T %v", err, err)
	}
}

func TestURLs(t *testing.T) {
	if _, err := New("ftp://x"); err == nil {
		t.Fatal("ftp accepted")
	}
	if _, err := New("unix:/run/loom/api.sock"); err != nil {
		t.Fatal(err)
	}
}

func TestParseSSE(t *testing.T) {
	in := "retry: 2000\n: link loom event stream\n\nid: 41\nevent: task\ndata: {\"id\":41}\n\n" +
		": ping\n\nid: 42\r\nevent: log\r\ndata: {\"line\":\"a\"}\r\n\r\nevent: end\ndata: {\"status\":\"SUCCESS\"}\n\n"
	var got []Event
	if err := ParseSSE(strings.NewReader(in), func(e Event) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != 41 || got[0].Name != "task" || got[1].ID != 42 || got[2].Name != "end" || got[2].ID != 0 {
		t.Fatalf("%+v", got)
	}
	if l, err := got[1].Log(); err != nil || l.Line != "a" {
		t.Fatal(l, err)
	}
	err := ParseSSE(strings.NewReader("id: 1\nevent: task\ndata: {}\n"), func(Event) error { return nil })
	var ce *ConnectionError
	if !errors.As(err, &ce) {
		t.Fatalf("cut stream: %v", err)
	}
}

// A server that ignores ?wait and gives one cursor forever: the client
// polls gently and stops instead of spinning.
func TestMisbehavingServer(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.URL.String())
		n := len(calls)
		mu.Unlock()
		if r.URL.Path == "/api/v1/executions" {
			fmt.Fprintf(w, `{"executions":[{"id":"exec-%d"}],"nextCursor":"same"}`, n)
			return
		}
		fmt.Fprint(w, `{"id":"exec-1","status":"RUNNING","tasks":[]}`)
	}))
	defer srv.Close()
	c, _ := New(srv.URL)
	ctx := context.Background()
	var wt *WaitTimeoutError
	if _, err := c.Wait(ctx, "exec-1", 2500*time.Millisecond); !errors.As(err, &wt) {
		t.Fatal(err)
	}
	if len(calls) > 5 || !strings.Contains(calls[0], "wait=") {
		t.Fatalf("%d polls: %q", len(calls), calls)
	}
	calls = nil
	it := c.Executions(ctx, ExecutionFilter{Limit: 1})
	n := 0
	for it.Next() {
		n++
	}
	var e *Error
	if !errors.As(it.Err(), &e) || e.Code != "bad_cursor" || len(calls) != 2 || n != 2 {
		t.Fatalf("%v, %d calls, %d executions", it.Err(), len(calls), n)
	}
}
