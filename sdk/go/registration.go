package agent

// Registration with the control plane: the registration body, retries, the
// wait for tag approval and the heartbeats.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

const pendingApproval = "pending_approval"

func (a *Agent) dispatchToken() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.token
}

// RegistrationPayload is the body of POST /api/v1/nodes/register.
func (a *Agent) RegistrationPayload() map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	targets := map[string][]map[string]any{"reasoner": {}, "skill": {}}
	for _, r := range a.order {
		input := r.InputSchema
		if len(input) == 0 {
			input = json.RawMessage(`{"type":"object"}`)
		}
		output := r.OutputSchema
		if len(output) == 0 {
			output = json.RawMessage(`{}`)
		}
		tags := cleanTags(r.Tags)
		targets[r.kind] = append(targets[r.kind], map[string]any{
			"id": r.Name, "description": r.Description, "tags": tags, "proposed_tags": tags,
			"input_schema": input, "output_schema": output,
		})
	}
	sessions := make([]SessionDefinition, 0, len(a.sessOrder))
	for _, name := range a.sessOrder {
		sessions = append(sessions, a.sessions[name].def)
	}
	protocols := []string{"http"}
	if a.hasHandlers() {
		protocols = append(protocols, "websocket")
	}
	tags := cleanTags(a.cfg.Tags)
	return map[string]any{
		"id":            a.cfg.NodeID,
		"team_id":       a.cfg.TeamID,
		"base_url":      a.baseURL,
		"version":       a.cfg.Version,
		"instance_id":   a.instanceID,
		"proposed_tags": tags,
		"reasoners":     targets["reasoner"],
		"skills":        targets["skill"],
		"sessions":      sessions,
		"communication_config": map[string]any{
			"protocols":          protocols,
			"heartbeat_interval": a.cfg.HeartbeatInterval.String(),
		},
		"metadata": map[string]any{"custom": map[string]any{
			"sessions":    sessions,
			"tags":        tags,
			"description": a.cfg.Description,
			"sdk":         map[string]any{"language": "go", "name": "agentfield-go"},
		}},
	}
}

// register posts the registration, retrying while the control plane is
// unreachable or failing (5xx); a 4xx is final.
func (a *Agent) register(ctx context.Context) error {
	delay, warned := 500*time.Millisecond, false
	for {
		var answer struct {
			DispatchToken string   `json:"dispatch_token"`
			Status        string   `json:"status"`
			PendingTags   []string `json:"pending_tags"`
		}
		status, body, err := a.do(ctx, http.MethodPost, "/api/v1/nodes/register", a.RegistrationPayload(), nil, &answer)
		if err == nil && status >= 400 && status < 500 {
			return &RegistrationError{StatusCode: status, Message: errorMessage(body), Body: body}
		}
		if err == nil && status < 300 && answer.DispatchToken != "" {
			a.mu.Lock()
			a.token, a.status, a.pending = answer.DispatchToken, answer.Status, answer.PendingTags
			a.mu.Unlock()
			a.logger.Printf("%s registered with %s (status %s)", a.cfg.NodeID, a.server, answer.Status)
			return nil
		}
		if !warned {
			reason := fmt.Sprintf("HTTP %d", status)
			if err != nil {
				reason = "unreachable"
			}
			a.logger.Printf("%s: registering with %s failed (%s); retrying", a.cfg.NodeID, a.server, reason)
			warned = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay *= 2; delay > 5*time.Second {
			delay = 5 * time.Second
		}
	}
}

func (a *Agent) waitForApproval(ctx context.Context) error {
	delay := a.cfg.ApprovalPollInterval
	var shown []string
	first := true
	for {
		a.mu.Lock()
		status, pending := a.status, a.pending
		a.mu.Unlock()
		if status != pendingApproval {
			if !first {
				a.logger.Printf("%s: tags approved", a.cfg.NodeID)
			}
			a.logRejected(ctx)
			return nil
		}
		if first || strings.Join(shown, ",") != strings.Join(pending, ",") {
			shown, first = pending, false
			a.logger.Printf("%s is waiting for tag approval: %s (approve at %s/access/approvals/)",
				a.cfg.NodeID, strings.Join(pending, ", "), a.server)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay = delay * 5 / 4; delay > 5*a.cfg.ApprovalPollInterval {
			delay = 5 * a.cfg.ApprovalPollInterval
		}
		var node struct {
			Status          string   `json:"status"`
			LifecycleStatus string   `json:"lifecycle_status"`
			PendingTags     []string `json:"pending_tags"`
		}
		code, _, err := a.do(ctx, http.MethodGet, "/api/v1/nodes/"+a.cfg.NodeID, nil, nil, &node)
		if err != nil || code != http.StatusOK {
			continue
		}
		status = node.Status
		if status == "" || node.LifecycleStatus == pendingApproval {
			status = node.LifecycleStatus
		}
		a.mu.Lock()
		a.status, a.pending = status, node.PendingTags
		a.mu.Unlock()
	}
}

// logRejected names the targets an admin rejected tags of: they cannot be called.
func (a *Agent) logRejected(ctx context.Context) {
	_, node, err := a.do(ctx, http.MethodGet, "/api/v1/nodes/"+a.cfg.NodeID, nil, nil, nil)
	if err != nil {
		return
	}
	for _, kind := range []string{"reasoners", "skills", "sessions"} {
		targets, _ := node[kind].([]any)
		for _, entry := range targets {
			target, _ := entry.(map[string]any)
			rejected, _ := target["rejected_tags"].([]any)
			if len(rejected) == 0 {
				continue
			}
			name := target["id"]
			if name == nil {
				name = target["name"]
			}
			a.logger.Printf("%s: %s %v cannot be called: tags rejected: %v",
				a.cfg.NodeID, strings.TrimSuffix(kind, "s"), name, rejected)
		}
	}
}

func (a *Agent) heartbeat(ctx context.Context, status string) (int, error) {
	body := map[string]any{"status": status, "version": a.cfg.Version, "instance_id": a.instanceID}
	code, _, err := a.do(ctx, http.MethodPost, "/api/v1/nodes/"+a.cfg.NodeID+"/heartbeat", body, nil, nil)
	return code, err
}

func (a *Agent) heartbeats(ctx context.Context) {
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(a.cfg.HeartbeatInterval):
		}
		code, err := a.heartbeat(ctx, "ready")
		switch {
		case ctx.Err() != nil:
			return
		case err != nil || code >= 500:
			if !failing {
				a.logger.Printf("%s: heartbeat failed", a.cfg.NodeID)
			}
			failing = true
		case code == http.StatusNotFound:
			a.logger.Printf("%s: unknown to the control plane; registering again", a.cfg.NodeID)
			if err := a.register(ctx); err != nil && ctx.Err() == nil {
				a.logger.Printf("%s: registering again failed: %v", a.cfg.NodeID, err)
			}
			failing = false
		default:
			if failing {
				a.logger.Printf("%s: heartbeats are getting through again", a.cfg.NodeID)
			}
			failing = false
		}
	}
}

// RegistrationError is the control plane refusing the registration (a 4xx):
// retrying will not help. Message is the control plane's own (for a bad
// session, the exact validation message).
type RegistrationError struct {
	StatusCode int
	Message    string
	Body       map[string]any
}

func (e *RegistrationError) Error() string {
	return fmt.Sprintf("registration refused (%d): %s", e.StatusCode, e.Message)
}
