package agent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const maxCallBodyBytes = 16 << 20

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]string{"error": code, "message": message})
}

// routes is the node's HTTP side: POST /reasoners/<name> and /skills/<name>
// (dispatch token required), GET /health.
func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "node_id": a.cfg.NodeID})
	})
	mux.Handle("/reasoners/", a.callHandler("reasoner"))
	mux.Handle("/skills/", a.callHandler("skill"))
	return mux
}

func (a *Agent) authorized(r *http.Request) bool {
	expected := a.dispatchToken()
	scheme, presented, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	presented = strings.TrimSpace(presented)
	if expected == "" || presented == "" || !strings.EqualFold(scheme, "bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(presented), []byte(expected)) == 1
}

type outcome struct {
	result   any
	err      error
	duration time.Duration
}

func (a *Agent) callHandler(kind string) http.Handler {
	prefix := "/" + kind + "s/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
			return
		}
		if !a.authorized(r) {
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid dispatch token")
			return
		}
		name := strings.TrimPrefix(r.URL.Path, prefix)
		target := a.findTarget(kind, name)
		if target == nil {
			writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("%s '%s' not found on %s", kind, name, a.cfg.NodeID))
			return
		}
		input, problem := readInput(r)
		if problem != "" {
			writeError(w, http.StatusBadRequest, "invalid_input", problem)
			return
		}
		ec := executionContextFromHeaders(r.Header)
		// The work outlives this request when it is answered 202: it runs on the
		// node's context, not the request's.
		ctx := withExecutionContext(a.runCtx, ec)
		done := make(chan outcome, 1)
		a.inflight.Add(1)
		go func() {
			defer a.inflight.Done()
			done <- a.invoke(ctx, target, input)
		}()
		accepted := func() {
			writeJSON(w, http.StatusAccepted, map[string]string{"status": "processing", "execution_id": ec.ExecutionID})
			a.inflight.Add(1)
			go func() {
				defer a.inflight.Done()
				a.reportStatus(ec.ExecutionID, target, <-done)
			}()
		}
		switch {
		case ec.ExecutionID == "": // no execution to report on later: answer when done
			a.answer(w, target, <-done)
		case a.cfg.AsyncAfter < 0:
			accepted()
		default:
			timer := time.NewTimer(a.cfg.AsyncAfter)
			defer timer.Stop()
			select {
			case result := <-done:
				a.answer(w, target, result)
			case <-timer.C:
				accepted()
			}
		}
	})
}

// readInput is the call's input: the body object, or the object under "input"
// when that is the body's only key (upstream's envelope).
func readInput(r *http.Request) (map[string]any, string) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxCallBodyBytes))
	if err != nil {
		return nil, "the body could not be read"
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return map[string]any{}, ""
	}
	var body any
	if json.Unmarshal(raw, &body) != nil {
		return nil, "the body must be JSON"
	}
	object, ok := body.(map[string]any)
	if !ok {
		return nil, "the body must be a JSON object"
	}
	if wrapped, ok := object["input"].(map[string]any); ok && len(object) == 1 {
		return wrapped, ""
	}
	return object, ""
}

func (a *Agent) invoke(ctx context.Context, target *Reasoner, input map[string]any) (result outcome) {
	started := time.Now()
	defer func() {
		if recovered := recover(); recovered != nil {
			result = outcome{err: fmt.Errorf("panic: %v", recovered)}
		}
		result.duration = time.Since(started)
	}()
	value, err := target.Handler(ctx, input)
	if err == nil {
		// Encode now, so a result that is not JSON fails the call, not the answer.
		if _, encodeErr := json.Marshal(value); encodeErr != nil {
			err = fmt.Errorf("the result is not JSON: %v", encodeErr)
		}
	}
	return outcome{result: value, err: err}
}

func (a *Agent) answer(w http.ResponseWriter, target *Reasoner, result outcome) {
	if result.err != nil {
		// A failure of the work, not of the node: 422, which the control plane
		// records as failed without calling again (it retries 5xx).
		a.logger.Printf("%s %s.%s failed: %v", target.kind, a.cfg.NodeID, target.Name, result.err)
		writeError(w, http.StatusUnprocessableEntity, target.kind+"_failed", truncate(result.err.Error(), 2000))
		return
	}
	writeJSON(w, http.StatusOK, result.result)
}

// reportStatus posts the outcome of work answered 202 to
// /api/v1/executions/<id>/status, retrying transport errors and 5xx.
func (a *Agent) reportStatus(executionID string, target *Reasoner, result outcome) {
	body := map[string]any{
		"status":      "succeeded",
		"result":      result.result,
		"duration_ms": result.duration.Milliseconds(),
		"reasoner":    target.Name,
	}
	if result.err != nil {
		a.logger.Printf("%s %s.%s failed: %v", target.kind, a.cfg.NodeID, target.Name, result.err)
		body = map[string]any{
			"status":      "failed",
			"error":       truncate(result.err.Error(), 2000),
			"duration_ms": result.duration.Milliseconds(),
			"reasoner":    target.Name,
		}
	}
	delay := 200 * time.Millisecond
	for attempt := 0; attempt < 8; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		code, answer, err := a.do(ctx, http.MethodPost, "/api/v1/executions/"+executionID+"/status", body, nil, nil)
		cancel()
		if err == nil && code < 500 {
			if code >= 400 {
				a.logger.Printf("%s: the status of execution %s was refused (%d): %s",
					a.cfg.NodeID, executionID, code, errorMessage(answer))
			}
			return
		}
		time.Sleep(delay)
		delay *= 2
	}
	a.logger.Printf("%s: could not report the status of execution %s", a.cfg.NodeID, executionID)
}

func truncate(text string, limit int) string {
	if len(text) <= limit {
		return text
	}
	return text[:limit]
}
