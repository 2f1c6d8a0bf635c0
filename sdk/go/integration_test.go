package linkloom_test

// Integration tests against a real Link Loom stack.  tests/sdk-go.bats
// starts PostgreSQL, loom-api (TCP, a Unix socket, and one that asks for
// tokens), loom-engine and loom-exec, and exports where they are (see
// tests/sdk-helpers.bash).  Without LOOM_API these tests are skipped,
// unless LOOM_SDK_INTEGRATION=1 says they must run.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"linkloom"
	"linkloom/examples/seed"
)

type stack struct {
	c       *linkloom.Client
	backend *seed.Backend
	url     string
}

func setup(t *testing.T, id string) *stack {
	t.Helper()
	cur = t
	api := os.Getenv("LOOM_API")
	if api == "" {
		if os.Getenv("LOOM_SDK_INTEGRATION") == "1" {
			t.Fatal("LOOM_SDK_INTEGRATION=1 but LOOM_API is not set")
		}
		t.Skip("no stack: LOOM_API is not set (see tests/sdk-go.bats)")
	}
	c, err := linkloom.New(api)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{c: c, url: "http://" + ln.Addr().String()}
	s.backend = &seed.Backend{BaseURL: s.url}
	srv := &http.Server{Handler: s.backend.Mux(os.Getenv("LOOM_SDK_SIGNING_SECRET"))}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	text, err := os.ReadFile("../testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text = bytes.ReplaceAll(bytes.ReplaceAll(text, []byte("@ID@"), []byte(id)), []byte("@BACKEND@"), []byte(s.url))
	if _, err := c.ApplyWorkflow(context.Background(), text); err != nil {
		t.Fatal(err)
	}
	return s
}

// cur is the running test, for must (the tests run one at a time).
var cur *testing.T

// check(err) ends the test with err, if any.
func check(err error) {
	cur.Helper()
	if err != nil {
		cur.Fatal(err)
	}
}

// must(f()) is f's value, or the end of the test with f's error.
func must[T any](v T, err error) T {
	cur.Helper()
	if err != nil {
		cur.Fatal(err)
	}
	return v
}

func outputs(t *testing.T, ex *linkloom.Execution) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, task := range ex.Tasks {
		var m map[string]any
		if err := json.Unmarshal(task.Output, &m); err != nil {
			t.Fatalf("%s: %s", task.TaskID, task.Output)
		}
		out[task.TaskID] = m
	}
	return out
}

func TestIntegrationSeedRun(t *testing.T) {
	s := setup(t, "go-seed")
	ctx := context.Background()
	wfs := must(s.c.ListWorkflows(ctx))
	found := false
	for _, w := range wfs {
		found = found || w.ID == "go-seed"
	}
	if !found {
		t.Fatal("go-seed is not listed")
	}
	if wf := must(s.c.GetWorkflow(ctx, "go-seed")); !strings.Contains(string(wf.Spec), `"fetch_data"`) {
		t.Fatal(string(wf.Spec))
	}
	run := must(s.c.Trigger(ctx, "go-seed", map[string]any{"limit": 5}))
	id := run.ExecutionID
	var lines [][2]string
	if err := s.c.FollowLogs(ctx, id, func(l linkloom.LogLine) error {
		lines = append(lines, [2]string{l.TaskID, l.Line})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ex := must(s.c.Wait(ctx, id, 2*time.Minute))
	if ex.Status != "SUCCESS" {
		t.Fatalf("%+v", ex)
	}
	ex.Tasks = must(s.c.Tasks(ctx, id))
	out := outputs(t, ex)
	if out["fetch_data"]["recordCount"] != 5.0 || out["fetch_data"]["checksum"] != seed.FNV1a("2024-01-14/5") ||
		out["validate"]["valid"] != true || out["validate"]["recordCount"] != 5.0 ||
		out["process"]["processed"] != 5.0 || out["process"]["title"] != "Report for 2024-01-14" ||
		out["process"]["reportUrl"] != fmt.Sprintf("%s/reports/%s.csv", s.url, id) ||
		out["send_email"]["messageId"] != fmt.Sprintf("<%s@loom.example>", id) {
		t.Fatalf("outputs did not flow: %v", out)
	}
	// the backend notes its callback once loom-api has answered it, which
	// may be just after the run ended: wait for the note
	called := false
	for i := 0; i < 200 && !called; i++ {
		for _, k := range s.backend.CalledBack() {
			called = called || k == id+"/send_email/1"
		}
		if !called {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !called {
		t.Fatal("send_email was not completed through its callback")
	}
	if len(lines) != 4 || lines[0] != [2]string{"fetch_data", "Fetched 5 records for 2024-01-14"} ||
		lines[3] != [2]string{"send_email", `Sent "Report for 2024-01-14" to team@example.com`} {
		t.Fatalf("%q", lines)
	}
	page := must(s.c.Logs(ctx, id, "", 0, 0))
	if len(page.Logs) != 4 || page.Logs[0].Line != lines[0][1] {
		t.Fatalf("%+v", page)
	}
	if p := must(s.c.Logs(ctx, id, "process", 0, 0)); len(p.Logs) != 1 || p.Logs[0].Line != "Processed 5 records" {
		t.Fatalf("%+v", p)
	}
}

func TestIntegrationRetriedByErrorType(t *testing.T) {
	s := setup(t, "go-seed")
	ctx := context.Background()
	id := must(s.c.Trigger(ctx, "go-seed", map[string]any{"limit": 2, "failAttempts": 2})).ExecutionID
	ex := must(s.c.Wait(ctx, id, 2*time.Minute))
	fetch := ex.Task("fetch_data")
	if ex.Status != "SUCCESS" || fetch.Attempt != 3 || len(fetch.Attempts) != 3 ||
		fetch.Attempts[0].Error == nil || fetch.Attempts[0].Error.Type != "HttpServerError" ||
		fetch.Attempts[2].Error != nil {
		t.Fatalf("%+v", ex)
	}
}

func TestIntegrationFileApplyPauseForceAndEveryEvent(t *testing.T) {
	s := setup(t, "go-seed")
	ctx := context.Background()
	text := must(os.ReadFile("../testdata/seed.yaml"))
	text = bytes.ReplaceAll(bytes.ReplaceAll(text, []byte("@ID@"), []byte("go-seed")), []byte("@BACKEND@"), []byte(s.url))
	file := filepath.Join(t.TempDir(), "seed.yaml")
	check(os.WriteFile(file, text, 0o644))
	if a := must(s.c.ApplyWorkflowFile(ctx, file)); a.Created { // the same spec: no new version
		t.Fatalf("%+v", a)
	}
	if w := must(s.c.PauseWorkflow(ctx, "go-seed")); !w.Paused || !w.Changed {
		t.Fatalf("%+v", w)
	}
	_, err := s.c.Trigger(ctx, "go-seed", nil)
	run, ferr := s.c.Trigger(ctx, "go-seed", nil, linkloom.Force())
	if w := must(s.c.UnpauseWorkflow(ctx, "go-seed")); w.Paused {
		t.Fatalf("%+v", w)
	}
	if !errors.Is(err, linkloom.ErrConflict) || ferr != nil {
		t.Fatal(err, ferr)
	}
	if ex := must(s.c.Wait(ctx, run.ExecutionID, 2*time.Minute)); ex.Status != "SUCCESS" {
		t.Fatal(ex.Status)
	}
	found := errors.New("found")
	err = s.c.Events(ctx, "", linkloom.EventOptions{FromStart: true, Workflow: "go-seed", Kinds: []string{"run"}},
		func(e linkloom.Event) error {
			var d struct{ ExecutionID string }
			_ = json.Unmarshal(e.Data, &d)
			if e.Name != "run" {
				return fmt.Errorf("a %s event", e.Name)
			}
			if d.ExecutionID == run.ExecutionID {
				return found
			}
			return nil
		})
	if err != found {
		t.Fatal(err)
	}
}

func TestIntegrationEventsResume(t *testing.T) {
	s := setup(t, "go-seed")
	ctx := context.Background()
	id := must(s.c.Trigger(ctx, "go-seed", nil)).ExecutionID
	must(s.c.Wait(ctx, id, 2*time.Minute))
	var evs []linkloom.Event
	if err := s.c.Events(ctx, id, linkloom.EventOptions{FromStart: true}, func(e linkloom.Event) error {
		evs = append(evs, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	kinds := map[string]bool{}
	for _, e := range evs {
		kinds[e.Name] = true
		if e.ID != 0 {
			ids = append(ids, e.ID)
		}
	}
	if evs[len(evs)-1].Name != "end" || len(ids) <= 8 || !kinds["run"] || !kinds["task"] || !kinds["log"] {
		t.Fatalf("%d events, kinds %v", len(evs), kinds)
	}
	var again []int64
	if err := s.c.Events(ctx, id, linkloom.EventOptions{LastEventID: ids[3]}, func(e linkloom.Event) error {
		if e.ID != 0 {
			again = append(again, e.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(again) != fmt.Sprint(ids[4:]) {
		t.Fatalf("resumed %v, want %v", again, ids[4:])
	}
	// fn's error stops the stream and comes back
	stop := errors.New("stop")
	if err := s.c.Events(ctx, id, linkloom.EventOptions{FromStart: true}, func(linkloom.Event) error { return stop }); err != stop {
		t.Fatal(err)
	}
}

func TestIntegrationPaging(t *testing.T) {
	s := setup(t, "go-seed")
	ctx := context.Background()
	mine := map[string]bool{}
	for i := 0; i < 3; i++ {
		mine[must(s.c.Trigger(ctx, "go-seed", map[string]any{"limit": i})).ExecutionID] = true
	}
	for id := range mine {
		must(s.c.Wait(ctx, id, 2*time.Minute))
	}
	page := must(s.c.ListExecutionsPage(ctx, linkloom.ExecutionFilter{Workflow: "go-seed", Limit: 1}, ""))
	if len(page.Executions) != 1 || page.NextCursor == nil {
		t.Fatalf("%+v", page)
	}
	seen := map[string]int{}
	it := s.c.Executions(ctx, linkloom.ExecutionFilter{Workflow: "go-seed", Limit: 1})
	for it.Next() {
		seen[it.Execution().ID]++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s seen %d times", id, n)
		}
	}
	for id := range mine {
		if seen[id] != 1 {
			t.Fatalf("%s not seen", id)
		}
	}
}

func TestIntegrationErrors(t *testing.T) {
	s := setup(t, "go-seed")
	ctx := context.Background()
	_, err := s.c.GetWorkflow(ctx, "no-such-flow")
	var ae *linkloom.Error
	if !errors.Is(err, linkloom.ErrNotFound) || !errors.As(err, &ae) || ae.Code != "not_found" ||
		!strings.Contains(ae.Message, "no-such-flow") {
		t.Fatalf("%v", err)
	}
	_, err = s.c.ApplyWorkflow(ctx, []byte("id: bad\ntasks:\n  - id: a\n    dependsOn: [nosuch]\n"))
	if !errors.As(err, &ae) || ae.Status != 422 || ae.Code != "invalid_workflow" || len(ae.Details) == 0 {
		t.Fatalf("%v", err)
	}
	_, err = s.c.Trigger(ctx, "go-seed", map[string]any{"undeclared": 1})
	if !errors.As(err, &ae) || ae.Code != "invalid_input" {
		t.Fatalf("%v", err)
	}
	// a callback whose token loom-api never gave out
	err = linkloom.Complete(ctx, os.Getenv("LOOM_API")+"/api/v1/callbacks/exec-x~t~"+strings.Repeat("0", 64),
		linkloom.Success(nil, ""))
	if !errors.Is(err, linkloom.ErrNotFound) {
		t.Fatalf("%v", err)
	}
}

func TestIntegrationControlsAndDeadLetters(t *testing.T) {
	s := setup(t, "go-seed")
	ctx := context.Background()
	res := must(s.c.ApplyWorkflowObject(ctx, map[string]any{
		"id": "go-controls", "tasks": []any{map[string]any{"id": "slow", "type": "shell", "command": "sleep 60"}}}))
	if res.ID != "go-controls" {
		t.Fatal(res)
	}
	id := must(s.c.Trigger(ctx, "go-controls", nil)).ExecutionID
	var wt *linkloom.WaitTimeoutError
	if ex, err := s.c.Wait(ctx, id, 500*time.Millisecond); !errors.As(err, &wt) || ex.Finished() {
		t.Fatalf("%v %+v", err, ex)
	}
	must(s.c.Cancel(ctx, id))
	if ex := must(s.c.Wait(ctx, id, time.Minute)); ex.Status != "CANCELLED" {
		t.Fatal(ex.Status)
	}
	if _, err := s.c.Cancel(ctx, id); !errors.Is(err, linkloom.ErrConflict) {
		t.Fatal(err)
	}

	must(s.c.ApplyWorkflowObject(ctx, map[string]any{
		"id": "go-dead", "signing": map[string]any{"secretEnv": "LOOM_SDK_SIGNING_SECRET"},
		"tasks": []any{
			map[string]any{"id": "check", "type": "http", "maxAttempts": 1, "url": s.url + "/api/tasks/validate",
				"input": map[string]any{"recordCount": -1}},
			map[string]any{"id": "after", "type": "shell", "command": "echo done", "dependsOn": []string{"check"}},
		}}))
	id = must(s.c.Trigger(ctx, "go-dead", nil)).ExecutionID
	ex := must(s.c.Wait(ctx, id, time.Minute))
	if ex.Status != "FAILED" || ex.Task("check").Error == nil || ex.Task("check").Error.Type != "ValidationException" {
		t.Fatalf("%+v", ex)
	}
	letters := must(s.c.DeadLetters(ctx, linkloom.DeadLetterFilter{Execution: id}))
	if len(letters) != 1 || letters[0].TaskID != "check" || letters[0].Status != "open" {
		t.Fatalf("%+v", letters)
	}
	if dl := must(s.c.GetDeadLetter(ctx, letters[0].ID)); dl.ExecutionStatus != "FAILED" {
		t.Fatal(dl.ExecutionStatus)
	}
	if r := must(s.c.ReplayDeadLetter(ctx, letters[0].ID)); r.Request == nil || r.Request.Kind != "replay" {
		t.Fatalf("%+v", r)
	}
	if ex = must(s.c.Wait(ctx, id, time.Minute)); ex.Status != "FAILED" {
		t.Fatal(ex.Status)
	}
	all := must(s.c.DeadLetters(ctx, linkloom.DeadLetterFilter{Execution: id, All: true}))
	if all[len(all)-1].Status != "replayed" {
		t.Fatalf("%+v", all)
	}
	if r := must(s.c.Retry(ctx, id, true)); r.Request == nil || r.Request.Kind != "retry" {
		t.Fatalf("%+v", r)
	}
	if ex = must(s.c.Wait(ctx, id, time.Minute)); ex.Status != "FAILED" {
		t.Fatal(ex.Status)
	}
	open := must(s.c.DeadLetters(ctx, linkloom.DeadLetterFilter{Execution: id}))
	if len(open) != 1 {
		t.Fatalf("%+v", open)
	}
	if d := must(s.c.DiscardDeadLetter(ctx, open[0].ID)); d.Status != "discarded" {
		t.Fatal(d.Status)
	}
	if n := len(must(s.c.DeadLetters(ctx, linkloom.DeadLetterFilter{Execution: id}))); n != 0 {
		t.Fatal(n)
	}
	if r := must(s.c.Retry(ctx, id, false)); r.RetryOf != id || r.ExecutionID == "" {
		t.Fatalf("%+v", r)
	}

	ok := must(s.c.Trigger(ctx, "go-seed", nil)).ExecutionID
	must(s.c.Wait(ctx, ok, 2*time.Minute))
	if r := must(s.c.RerunTask(ctx, ok, "process", true)); r.Request == nil || r.Request.Kind != "rerun" {
		t.Fatalf("%+v", r)
	}
	ex = must(s.c.Wait(ctx, ok, 2*time.Minute))
	if ex.Status != "SUCCESS" || ex.Task("process").Attempt != 2 {
		t.Fatalf("%+v", ex)
	}
}

// startAPI runs a loom-api of the test's own on port (0: any) and
// returns it with its URL.
func startAPI(t *testing.T, port string) (*exec.Cmd, string) {
	cmd := exec.Command(filepath.Join(os.Getenv("LOOM_BIN"), "loom-api"), "--listen", "127.0.0.1:"+port, "--print-url")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out := must(cmd.StdoutPipe())
	check(cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Wait()
		t.Fatalf("loom-api did not start: %s", stderr.String())
	}
	return cmd, strings.TrimSpace(line)
}

func stopAPI(cmd *exec.Cmd) {
	if cmd.ProcessState == nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
}

// A follower's loom-api stops mid-run (SIGTERM ends every stream) and
// another starts on its port: Events reconnects with Last-Event-ID and no
// line is lost or repeated.
func TestIntegrationStreamResumesAcrossRestart(t *testing.T) {
	s := setup(t, "go-seed")
	if os.Getenv("LOOM_BIN") == "" {
		t.Fatal("LOOM_BIN is not set")
	}
	ctx := context.Background()
	must(s.c.ApplyWorkflowObject(ctx, map[string]any{"id": "go-lines", "tasks": []any{map[string]any{
		"id": "count", "type": "shell", "command": "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.3; done"}}}))
	api, url := startAPI(t, "0")
	defer func() { stopAPI(api) }()
	port := url[strings.LastIndex(url, ":")+1:]
	follower := must(linkloom.New(url))
	id := must(s.c.Trigger(ctx, "go-lines", nil)).ExecutionID
	var lines []string
	check(follower.FollowLogs(ctx, id, func(l linkloom.LogLine) error {
		lines = append(lines, l.Line)
		if len(lines) == 2 {
			stopAPI(api)
			api, _ = startAPI(t, port)
		}
		return nil
	}))
	if fmt.Sprint(lines) != "[line 1 line 2 line 3 line 4 line 5 line 6]" {
		t.Fatalf("%q", lines)
	}
	if ex := must(s.c.Wait(ctx, id, time.Minute)); ex.Status != "SUCCESS" {
		t.Fatal(ex.Status)
	}
}

func TestIntegrationUnixSocket(t *testing.T) {
	s := setup(t, "go-seed")
	sock := os.Getenv("LOOM_SDK_SOCKET")
	if sock == "" {
		if os.Getenv("LOOM_SDK_INTEGRATION") == "1" {
			t.Fatal("LOOM_SDK_SOCKET is not set")
		}
		t.Skip("LOOM_SDK_SOCKET is not set")
	}
	ctx := context.Background()
	a := must(linkloom.New("", linkloom.WithSocket(sock)))
	b := must(linkloom.New("unix:" + sock))
	for _, c := range []*linkloom.Client{a, b} {
		if len(must(c.ListWorkflows(ctx))) == 0 {
			t.Fatal("no workflows over the socket")
		}
	}
	id := must(s.c.Trigger(ctx, "go-seed", nil)).ExecutionID
	var last string
	if err := b.Events(ctx, id, linkloom.EventOptions{FromStart: true}, func(e linkloom.Event) error {
		last = e.Name
		return nil
	}); err != nil || last != "end" {
		t.Fatal(err, last)
	}
}

func TestIntegrationTokenPerCall(t *testing.T) {
	setup(t, "go-seed")
	url, token := os.Getenv("LOOM_SDK_AUTHED_API"), os.Getenv("LOOM_SDK_TOKEN")
	if url == "" || token == "" {
		if os.Getenv("LOOM_SDK_INTEGRATION") == "1" {
			t.Fatal("LOOM_SDK_AUTHED_API/LOOM_SDK_TOKEN are not set")
		}
		t.Skip("no authenticating loom-api")
	}
	ctx := context.Background()
	anon := must(linkloom.New(url, linkloom.WithToken("")))
	if _, err := anon.Trigger(ctx, "go-seed", nil); !errors.Is(err, linkloom.ErrUnauthorized) {
		t.Fatal(err)
	}
	run := must(anon.Trigger(ctx, "go-seed", map[string]any{"limit": 1}, linkloom.WithCallToken(token)))
	authed := must(linkloom.New(url, linkloom.WithToken(token)))
	if ex := must(authed.Wait(ctx, run.ExecutionID, 2*time.Minute)); ex.Status != "SUCCESS" {
		t.Fatal(ex.Status)
	}
}

func TestIntegrationSignatureCapturedFromLoomExec(t *testing.T) {
	setup(t, "go-seed")
	type capture struct {
		body    []byte
		ts, sig string
	}
	got := make(chan capture, 1)
	ln := must(net.Listen("tcp", "127.0.0.1:0"))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- capture{b, r.Header.Get("X-Loom-Timestamp"), r.Header.Get("X-Loom-Signature")}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	req, _ := json.Marshal(map[string]any{
		"executionId": "exec-capture", "taskId": "t", "input": map[string]any{"a": []any{1, "é"}},
		"task": map[string]any{"type": "http", "timeout": "10s", "url": "http://" + ln.Addr().String() + "/x",
			"signing": map[string]any{"secretEnv": "CAPTURE_SECRET"}}})
	cmd := exec.Command(filepath.Join(os.Getenv("LOOM_BIN"), "loom-exec"), "--stdin")
	cmd.Env = append(os.Environ(), "CAPTURE_SECRET=capture secret")
	cmd.Stdin = bytes.NewReader(append(req, '\n'))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	c := <-got
	if !linkloom.VerifySignature([]byte("capture secret"), c.ts, c.sig, c.body, time.Now(), linkloom.MaxSkew) {
		t.Fatalf("refused: %s %s %s", c.ts, c.sig, c.body)
	}
	if linkloom.VerifySignature([]byte("wrong"), c.ts, c.sig, c.body, time.Now(), linkloom.MaxSkew) {
		t.Fatal("a wrong secret verified")
	}
}
