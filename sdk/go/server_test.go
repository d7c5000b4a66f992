package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The node's HTTP side on its own (the end-to-end tests drive it from the
// control plane): the token check, the input envelope and the answers.
func TestTheNodesHTTPSide(t *testing.T) {
	a, err := New(Config{NodeID: "n1", Token: "k", Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	var seen map[string]any
	var seenContext ExecutionContext
	a.RegisterReasoner("echo", func(ctx context.Context, input map[string]any) (any, error) {
		seen, seenContext = input, ExecutionContextFrom(ctx)
		return map[string]any{"got": input}, nil
	})
	a.RegisterSkill("fails", func(ctx context.Context, input map[string]any) (any, error) {
		return nil, errors.New("no such order")
	})
	a.RegisterReasoner("unencodable", func(ctx context.Context, input map[string]any) (any, error) {
		return func() {}, nil
	})
	a.token, a.runCtx = "the-token", context.Background()
	routes := a.routes()
	call := func(path, authorization, body string, headers ...string) (int, map[string]any) {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		rec := httptest.NewRecorder()
		routes.ServeHTTP(rec, req)
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	ok := "Bearer the-token"

	for _, authorization := range []string{"", "Bearer wrong", "the-token", "Basic the-token"} {
		if code, body := call("/reasoners/echo", authorization, `{}`); code != 401 || body["message"] != "missing or invalid dispatch token" {
			t.Errorf("Authorization %q: %d %v", authorization, code, body)
		}
	}
	if code, body := call("/reasoners/nope", ok, `{}`); code != 404 || body["message"] != "reasoner 'nope' not found on n1" {
		t.Errorf("unknown: %d %v", code, body)
	}
	if code, _ := call("/skills/echo", ok, `{}`); code != 404 {
		t.Errorf("a reasoner answered as a skill: %d", code)
	}
	for _, bad := range []string{`{`, `[1]`, `"x"`} {
		if code, body := call("/reasoners/echo", ok, bad); code != 400 || body["error"] != "invalid_input" {
			t.Errorf("body %s: %d %v", bad, code, body)
		}
	}
	code, body := call("/reasoners/echo", ok, `{"input": {"order": "42"}}`,
		"X-Execution-ID", "", "X-Session-ID", "sess_1", "X-Run-ID", "run_1")
	if code != 200 || seen["order"] != "42" || seenContext.SessionID != "sess_1" || seenContext.RunID != "run_1" {
		t.Errorf("envelope: %d %v %v %+v", code, body, seen, seenContext)
	}
	if code, _ := call("/reasoners/echo", ok, `{"input": {"a": 1}, "other": 2}`); code != 200 || seen["other"] != 2.0 {
		t.Errorf("a body with more than input is the input itself: %v", seen)
	}
	if code, _ := call("/reasoners/echo", ok, ``); code != 200 || len(seen) != 0 {
		t.Errorf("an empty body is an empty input: %v", seen)
	}
	if code, body := call("/skills/fails", ok, `{}`); code != 422 || body["error"] != "skill_failed" || body["message"] != "no such order" {
		t.Errorf("failing skill: %d %v", code, body)
	}
	if code, body := call("/reasoners/unencodable", ok, `{}`); code != 422 || !strings.Contains(body["message"].(string), "not JSON") {
		t.Errorf("unencodable result: %d %v", code, body)
	}
	req := httptest.NewRequest(http.MethodGet, "/health", nil)
	rec := httptest.NewRecorder()
	routes.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"node_id":"n1"`) {
		t.Errorf("health: %d %s", rec.Code, rec.Body.String())
	}
}
