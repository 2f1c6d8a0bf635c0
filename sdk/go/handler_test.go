package linkloom

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testdata(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestFullEnvelope(t *testing.T) {
	body := []byte(`{"executionId":"exec-1","taskId":"fetch_data","input":{"date":"2024-01-14"},
		"attempt":2,"timeout":300000,"callbackUrl":"http://loom:8080/api/v1/callbacks/tok",
		"scheduledTime":"2026-12-07T03:00:00Z"}`)
	h := http.Header{}
	h.Set("Idempotency-Key", "exec-1/fetch_data/2")
	r, err := ParseEnvelope(body, h)
	if err != nil {
		t.Fatal(err)
	}
	var in map[string]string
	if err := r.DecodeInput(&in); err != nil || in["date"] != "2024-01-14" {
		t.Fatalf("input %v %v", in, err)
	}
	if r.ExecutionID != "exec-1" || r.TaskID != "fetch_data" || r.Attempt != 2 ||
		r.Timeout != 300*time.Second || r.CallbackURL != "http://loom:8080/api/v1/callbacks/tok" ||
		r.IdempotencyKey != "exec-1/fetch_data/2" {
		t.Fatalf("%+v", r)
	}
	if r.ScheduledTime == nil || !r.ScheduledTime.Equal(time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("scheduledTime %v", r.ScheduledTime)
	}
}

func TestEnvelopeDefaults(t *testing.T) {
	r, err := ParseEnvelope([]byte(`{"executionId":"e","taskId":"t"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Attempt != 1 || string(r.Input) != "{}" || r.Timeout != 0 || r.CallbackURL != "" ||
		r.ScheduledTime != nil || r.IdempotencyKey != "e/t/1" {
		t.Fatalf("%+v", r)
	}
}

func TestBadEnvelopes(t *testing.T) {
	for _, b := range []string{``, `not json`, `[1]`, `null`, `{"taskId":"t"}`, `{"executionId":"e","taskId":""}`,
		`{"executionId":"e","taskId":"t","attempt":0}`, `{"executionId":"e","taskId":"t","attempt":"1"}`,
		`{"executionId":"e","taskId":"t","timeout":"5m"}`, `{"executionId":"e","taskId":"t","scheduledTime":"x"}`} {
		var ee *EnvelopeError
		if _, err := ParseEnvelope([]byte(b), nil); !errors.As(err, &ee) {
			t.Errorf("%s: %v", b, err)
		}
	}
}

func TestResults(t *testing.T) {
	for _, c := range []struct {
		r    TaskResult
		want string
	}{
		{Success(map[string]int{"n": 1}, "did it"), `{"logs":"did it","output":{"n":1},"status":"SUCCESS"}`},
		{Success(nil, ""), `{"output":null,"status":"SUCCESS"}`},
		{Failed("ValidationException", "bad limit"),
			`{"error":{"type":"ValidationException","message":"bad limit"},"logs":"bad limit","output":null,"status":"FAILED"}`},
		{Accepted(), `{"status":"RUNNING"}`},
	} {
		b, _ := json.Marshal(c.r)
		if string(b) != c.want {
			t.Errorf("got %s, want %s", b, c.want)
		}
	}
}

func TestRun(t *testing.T) {
	req, _ := ParseEnvelope([]byte(`{"executionId":"e","taskId":"t"}`), nil)
	ctx := context.Background()
	st, res := Run(ctx, func(context.Context, *TaskRequest) (TaskResult, error) {
		return TaskResult{}, &TaskError{Type: "ValidationException", Message: "no"}
	}, req)
	if st != 200 || res.Status != "FAILED" || res.Error.Type != "ValidationException" {
		t.Fatalf("%d %+v", st, res)
	}
	st, res = Run(ctx, func(context.Context, *TaskRequest) (TaskResult, error) {
		return TaskResult{}, errors.New("boom")
	}, req)
	if res.Error.Type != "TaskFailedException" || res.Error.Message != "boom" {
		t.Fatalf("%+v", res)
	}
	st, res = Run(ctx, func(context.Context, *TaskRequest) (TaskResult, error) { return TaskResult{}, nil }, req)
	if st != 200 || res.Status != "SUCCESS" || res.Duration == nil {
		t.Fatalf("%d %+v", st, res)
	}
	st, _ = Run(ctx, func(context.Context, *TaskRequest) (TaskResult, error) { return Accepted(), nil }, req)
	if st != 202 {
		t.Fatal(st)
	}
}

func TestRFC4231(t *testing.T) {
	var f struct {
		Vectors []struct {
			Case           int
			Key, Data, Mac string
		}
	}
	testdata(t, "rfc4231.json", &f)
	if len(f.Vectors) != 6 {
		t.Fatal(len(f.Vectors))
	}
	for _, v := range f.Vectors {
		k, _ := hex.DecodeString(v.Key)
		d, _ := hex.DecodeString(v.Data)
		if got := HMACSHA256Hex(k, d); got != v.Mac {
			t.Errorf("case %d: %s", v.Case, got)
		}
	}
}

func TestSignIsHMACOfTimestampDotBody(t *testing.T) {
	if Sign([]byte("Jefe"), "1764130000", []byte("{}")) != "v1="+HMACSHA256Hex([]byte("Jefe"), []byte("1764130000.{}")) {
		t.Fatal("mismatch")
	}
}

func TestSignatureMadeByLoomExec(t *testing.T) {
	var f struct{ Body, Timestamp, Signature, IdempotencyKey, Secret string }
	testdata(t, "loom-exec-signature.json", &f)
	ts, _ := strconv.ParseInt(f.Timestamp, 10, 64)
	at := func(d int64) time.Time { return time.Unix(ts+d, 0) }
	sec, body := []byte(f.Secret), []byte(f.Body)
	if !VerifySignature(sec, f.Timestamp, f.Signature, body, at(10), MaxSkew) ||
		!VerifySignature(sec, f.Timestamp, f.Signature, body, time.Now(), -1) {
		t.Fatal("loom-exec's signature is refused")
	}
	for i, ok := range []bool{
		VerifySignature(sec, f.Timestamp, f.Signature, body, at(301), MaxSkew),
		VerifySignature(sec, f.Timestamp, f.Signature, body, at(-301), MaxSkew),
		VerifySignature([]byte("other"), f.Timestamp, f.Signature, body, at(0), MaxSkew),
		VerifySignature(sec, f.Timestamp, f.Signature, append(body, ' '), at(0), MaxSkew),
		VerifySignature(sec, strconv.FormatInt(ts+1, 10), f.Signature, body, at(0), MaxSkew),
		VerifySignature(sec, f.Timestamp, strings.ToUpper(f.Signature), body, at(0), MaxSkew),
	} {
		if ok {
			t.Errorf("case %d accepted", i)
		}
	}
	h := http.Header{}
	h.Set("Idempotency-Key", f.IdempotencyKey)
	if r, _ := ParseEnvelope(body, h); r.IdempotencyKey != "exec-sdk-fixture/fetch_data/1" {
		t.Fatal(r.IdempotencyKey)
	}
}

func TestMalformedSignatureHeaders(t *testing.T) {
	for _, c := range [][2]string{{"", "v1=00"}, {"12", ""}, {"-5", "v1=00"}, {"1e9", "v1=00"}, {"+12", "v1=00"}} {
		if VerifySignature([]byte("k"), c[0], c[1], nil, time.Now(), -1) {
			t.Errorf("%q accepted", c)
		}
	}
}

func TestHandlerOnHTTPServer(t *testing.T) {
	srv := httptest.NewServer(Handler(func(_ context.Context, r *TaskRequest) (TaskResult, error) {
		var in struct{ Name string }
		_ = r.DecodeInput(&in)
		return Success(map[string]string{"hi": in.Name}, "said hi"), nil
	}, HandlerOptions{Secret: []byte("s3cret")}))
	defer srv.Close()
	post := func(body string, h map[string]string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", srv.URL+"/hello", bytes.NewReader([]byte(body)))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	body := `{"executionId":"e","taskId":"t","input":{"name":"loom"}}`
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	good := map[string]string{"X-Loom-Timestamp": ts, "X-Loom-Signature": Sign([]byte("s3cret"), ts, []byte(body))}
	if st, m := post(body, good); st != 200 || m["status"] != "SUCCESS" || m["output"].(map[string]any)["hi"] != "loom" {
		t.Fatalf("%d %v", st, m)
	}
	if st, m := post(body, nil); st != 401 || m["error"].(map[string]any)["type"] != "HttpClientError" {
		t.Fatalf("%d %v", st, m)
	}
	if st, _ := post(body+" ", good); st != 401 {
		t.Fatal(st)
	}
	bad := map[string]string{"X-Loom-Timestamp": ts, "X-Loom-Signature": Sign([]byte("s3cret"), ts, []byte("[]"))}
	if st, m := post("[]", bad); st != 400 || m["error"].(map[string]any)["type"] != "ValidationException" {
		t.Fatalf("%d %v", st, m)
	}
}

func TestHandlerEmptySecretChecksNothing(t *testing.T) {
	srv := httptest.NewServer(Handler(func(context.Context, *TaskRequest) (TaskResult, error) {
		return Success(1, ""), nil
	}, HandlerOptions{Secret: []byte("")}))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"executionId":"e","taskId":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
}
