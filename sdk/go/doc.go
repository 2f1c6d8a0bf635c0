// Package linkloom is the Link Loom SDK for Go: a client for loom-api's
// REST API and helpers for writing task handlers (the user backends that
// loom-exec calls).  It uses the standard library only.
//
// A client:
//
//	c, err := linkloom.New("http://127.0.0.1:8080") // or "unix:/run/loom/api.sock"
//	_, err = c.ApplyWorkflowFile(ctx, "daily-report.yaml")
//	run, err := c.Trigger(ctx, "daily-report", map[string]any{"limit": 5})
//	ex, err := c.Wait(ctx, run.ExecutionID, 5*time.Minute)
//
// A backend:
//
//	mux := http.NewServeMux()
//	mux.Handle("/api/tasks/fetch-data", linkloom.Handler(fetchData,
//		linkloom.HandlerOptions{Secret: []byte(os.Getenv("REPORTS_SIGNING_SECRET"))}))
//	http.ListenAndServe(":8090", mux)
//
// Error answers of the API are *Error values carrying the HTTP status, the
// API's error code and message; errors.Is(err, linkloom.ErrNotFound) and
// the other Err* values match them by status.  See loom-api(8) and
// loom-exec(8) for the protocol.
package linkloom
