package linkloom

import "encoding/json"

// Applied is the answer to applying a workflow: Created is false when the
// spec did not change (no new version).
type Applied struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	Created bool   `json:"created"`
}

// Workflow is a workflow as listed or described; Spec (canonical JSON)
// and Definition (the file as submitted) come with GetWorkflow only.
type Workflow struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schedule    *string         `json:"schedule"`
	Timezone    string          `json:"timezone"`
	Version     int             `json:"version"`
	Paused      bool            `json:"paused"`
	TaskCount   int             `json:"taskCount,omitempty"`
	CreatedAt   string          `json:"createdAt"`
	UpdatedAt   string          `json:"updatedAt"`
	Spec        json.RawMessage `json:"spec,omitempty"`
	Definition  string          `json:"definition,omitempty"`
	Changed     bool            `json:"changed,omitempty"` // pause and unpause only
}

// Triggered is the answer to a trigger (and to a retry that starts a new
// run, with RetryOf).
type Triggered struct {
	ExecutionID     string `json:"executionId"`
	WorkflowID      string `json:"workflowId"`
	WorkflowVersion int    `json:"workflowVersion"`
	Status          string `json:"status"`
	RetryOf         string `json:"retryOf,omitempty"`
}

// ErrorInfo is a task's or a run's error: {"type", "message"}.
type ErrorInfo struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Attempt is one attempt of a task.
type Attempt struct {
	Attempt     int        `json:"attempt"`
	Status      string     `json:"status"`
	StartedAt   *string    `json:"startedAt"`
	CompletedAt *string    `json:"completedAt"`
	DurationMs  *int64     `json:"durationMs"`
	HTTPStatus  *int       `json:"httpStatus"`
	ExitCode    *int       `json:"exitCode"`
	Error       *ErrorInfo `json:"error"`
}

// TaskState is a task of a run.  Output is raw JSON; decode it with
// json.Unmarshal.
type TaskState struct {
	TaskID     string          `json:"taskId"`
	Type       string          `json:"type"`
	State      string          `json:"state"`
	Attempt    int             `json:"attempt"`
	SkipReason *string         `json:"skipReason"`
	Output     json.RawMessage `json:"output"`
	Error      *ErrorInfo      `json:"error"`
	StartedAt  *string         `json:"startedAt"`
	FinishedAt *string         `json:"finishedAt"`
	HeldBy     *string         `json:"heldBy"`
	HeldUntil  *string         `json:"heldUntil"`
	Attempts   []Attempt       `json:"attempts"`
}

// RunRequest is the request a retry, rerun or replay recorded.
type RunRequest struct {
	ID           int64    `json:"id"`
	Kind         string   `json:"kind"`
	TaskID       *string  `json:"taskId"`
	DeadLetterID *int64   `json:"deadLetterId"`
	State        string   `json:"state"`
	Reset        []string `json:"reset"`
}

// Execution is a run.  Trigger is manual, api, schedule, backfill,
// message, file, retry or replay; ScheduledTime is set for runs a
// schedule or backfill started.
type Execution struct {
	ID              string          `json:"id"`
	WorkflowID      string          `json:"workflowId"`
	WorkflowVersion int             `json:"workflowVersion"`
	Status          string          `json:"status"`
	Trigger         string          `json:"trigger"`
	ScheduledTime   *string         `json:"scheduledTime,omitempty"`
	Params          json.RawMessage `json:"params,omitempty"`
	Error           *string         `json:"error"` // why the run failed, or nil
	CreatedAt       string          `json:"createdAt"`
	StartedAt       *string         `json:"startedAt"`
	CompletedAt     *string         `json:"completedAt"`
	Tasks           []TaskState     `json:"tasks,omitempty"`
	Request         *RunRequest     `json:"request,omitempty"`
	// set by a retry that started a new run
	ExecutionID string `json:"executionId,omitempty"`
	RetryOf     string `json:"retryOf,omitempty"`
}

// Finished says whether the run is SUCCESS, FAILED or CANCELLED.
func (e *Execution) Finished() bool {
	return e.Status == "SUCCESS" || e.Status == "FAILED" || e.Status == "CANCELLED"
}

// Task finds a task of the run by id (nil when there is none).
func (e *Execution) Task(id string) *TaskState {
	for i := range e.Tasks {
		if e.Tasks[i].TaskID == id {
			return &e.Tasks[i]
		}
	}
	return nil
}

// ExecutionPage is one page of a listing; NextCursor is nil on the last.
type ExecutionPage struct {
	Executions []Execution `json:"executions"`
	NextCursor *string     `json:"nextCursor"`
}

// LogLine is one output line of a task (stream stdout, stderr or backend).
type LogLine struct {
	ID          int64  `json:"id"`
	ExecutionID string `json:"executionId"`
	TaskID      string `json:"taskId"`
	Attempt     int    `json:"attempt"`
	Stream      string `json:"stream"`
	Line        string `json:"line"`
	TS          string `json:"ts"`
}

// LogPage is one page of log lines; Next is nil on the last page so far.
type LogPage struct {
	ExecutionID string    `json:"executionId"`
	Logs        []LogLine `json:"logs"`
	Next        *int64    `json:"next"`
}

// DeadLetter is one letter of the dead-letter queue; Status is open,
// replayed, discarded or retried.
type DeadLetter struct {
	ID              int64           `json:"id"`
	ExecutionID     string          `json:"executionId"`
	WorkflowID      string          `json:"workflowId"`
	WorkflowVersion int             `json:"workflowVersion"`
	TaskID          string          `json:"taskId"`
	Attempts        int             `json:"attempts"`
	Error           *ErrorInfo      `json:"error"`
	CreatedAt       string          `json:"createdAt"`
	ResolvedAt      *string         `json:"resolvedAt"`
	Resolution      *string         `json:"resolution"`
	Status          string          `json:"status"`
	Request         json.RawMessage `json:"request,omitempty"`
	TaskState       string          `json:"taskState,omitempty"`
	ExecutionStatus string          `json:"executionStatus,omitempty"`
}
