package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

const maxAnswerBytes = 16 << 20

// do sends one request to the control plane with the node's key. It returns
// the HTTP status and the JSON object answered (nil if it was not one); out, if
// given, is decoded from the same body. err is a transport or encoding error.
func (a *Agent) do(ctx context.Context, method, path string, body any, headers map[string]string, out any) (int, map[string]any, error) {
	return a.doWith(ctx, a.http, method, path, body, headers, out)
}

func (a *Agent) doWith(ctx context.Context, client *http.Client, method, path string, body any, headers map[string]string, out any) (int, map[string]any, error) {
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.server+path, reader)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-API-Key", a.apiKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for name, value := range headers {
		req.Header.Set(name, value)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var object map[string]any
	if json.Unmarshal(raw, &object) != nil {
		object = nil
	}
	if out != nil && object != nil {
		json.Unmarshal(raw, out)
	}
	return resp.StatusCode, object, nil
}

func errorMessage(body map[string]any) string {
	for _, key := range []string{"message", "error"} {
		if text, ok := body[key].(string); ok && text != "" {
			return text
		}
	}
	if body == nil {
		return "no JSON answer"
	}
	raw, _ := json.Marshal(body)
	return string(raw)
}

// ExecuteError is a Call that did not succeed. StatusCode is the HTTP status of
// the control plane's answer (0 when none arrived); Status is the execution's
// status when there is one ("failed", "timeout", ...), else "refused" or
// "unreachable"; ErrorDetails is the answer's body.
type ExecuteError struct {
	StatusCode   int
	Message      string
	ExecutionID  string
	Status       string
	ErrorDetails any
}

func (e *ExecuteError) Error() string { return e.Message }

// Call runs "<node>.<name>" (or "<name>" of this node) through the control
// plane (a synchronous execute) and returns its result. Inside a reasoner, skill or session handler the call
// joins the current workflow: parent execution, run, session and actor ids go
// along. A result that is not a JSON object comes back as {"result": value}.
func (a *Agent) Call(ctx context.Context, target string, input map[string]any) (map[string]any, error) {
	if a.apiKey == "" {
		return nil, fmt.Errorf("no API key for node %s: set Config.Token or AGENTFIELD_API_KEY", a.cfg.NodeID)
	}
	if input == nil {
		input = map[string]any{}
	}
	if !strings.Contains(target, ".") {
		target = a.cfg.NodeID + "." + target // a target of this node, as upstream allows
	}
	headers := ExecutionContextFrom(ctx).childHeaders()
	status, body, err := a.doWith(ctx, a.callHTTP, http.MethodPost, "/api/v1/execute/"+target,
		map[string]any{"input": input}, headers, nil)
	if err != nil {
		return nil, &ExecuteError{Status: "unreachable", StatusCode: status,
			Message: fmt.Sprintf("calling %s failed: the control plane did not answer", target)}
	}
	executionID, _ := body["execution_id"].(string)
	if status == http.StatusOK && body != nil {
		outcome, _ := body["status"].(string)
		if outcome == "succeeded" {
			if result, ok := body["result"].(map[string]any); ok {
				return result, nil
			}
			return map[string]any{"result": body["result"]}, nil
		}
		message, _ := body["error_message"].(string)
		if message == "" {
			message = fmt.Sprintf("execution of %s ended %s", target, outcome)
		}
		if outcome == "" {
			outcome = "failed"
		}
		return nil, &ExecuteError{StatusCode: status, Message: message, ExecutionID: executionID, Status: outcome, ErrorDetails: body}
	}
	outcome := "refused"
	if status == http.StatusGatewayTimeout {
		if outcome, _ = body["status"].(string); outcome == "" {
			outcome = "timeout"
		}
	}
	return nil, &ExecuteError{
		StatusCode: status, ExecutionID: executionID, Status: outcome, ErrorDetails: body,
		Message: fmt.Sprintf("calling %s failed (%d): %s", target, status, errorMessage(body)),
	}
}

// ExecutionContext is the execution a reasoner, skill or session handler runs
// in, from the headers of the control plane's call.
type ExecutionContext struct {
	ExecutionID       string
	RunID             string
	WorkflowID        string
	ParentExecutionID string
	SessionID         string
	ActorID           string
}

type executionContextKey struct{}

// ExecutionContextFrom returns the execution context carried by ctx (empty
// outside a call).
func ExecutionContextFrom(ctx context.Context) ExecutionContext {
	if value, ok := ctx.Value(executionContextKey{}).(ExecutionContext); ok {
		return value
	}
	return ExecutionContext{}
}

func withExecutionContext(ctx context.Context, ec ExecutionContext) context.Context {
	return context.WithValue(ctx, executionContextKey{}, ec)
}

func withSessionID(ctx context.Context, sessionID string) context.Context {
	ec := ExecutionContextFrom(ctx)
	ec.SessionID = sessionID
	return withExecutionContext(ctx, ec)
}

func executionContextFromHeaders(header http.Header) ExecutionContext {
	get := func(name string) string { return strings.TrimSpace(header.Get(name)) }
	return ExecutionContext{
		ExecutionID:       get("X-Execution-ID"),
		RunID:             get("X-Run-ID"),
		WorkflowID:        get("X-Workflow-ID"),
		ParentExecutionID: get("X-Parent-Execution-ID"),
		SessionID:         get("X-Session-ID"),
		ActorID:           get("X-Actor-ID"),
	}
}

// childHeaders are the headers of a call made from inside this context.
func (ec ExecutionContext) childHeaders() map[string]string {
	headers := map[string]string{}
	for name, value := range map[string]string{
		"X-Parent-Execution-ID": ec.ExecutionID,
		"X-Run-ID":              ec.RunID,
		"X-Session-ID":          ec.SessionID,
		"X-Actor-ID":            ec.ActorID,
	} {
		if value != "" {
			headers[name] = value
		}
	}
	return headers
}
