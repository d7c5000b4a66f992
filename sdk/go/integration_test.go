package agent_test

// These tests run against a real control plane (daphne, a Celery worker, the
// provider simulator), started by tests/sdk_go/test_go_sdk.py, which passes:
//
//	AGENTFIELD_GO_TEST_SERVER      the control plane's base URL
//	AGENTFIELD_GO_TEST_ADMIN_KEY   an admin key
//	AGENTFIELD_GO_TEST_CALLER_KEY  a caller key
//	AGENTFIELD_GO_TEST_AGENT_KEYS  {"<node id>": "<agent key of that node>", ...}
//
// Without them they skip, so `go test ./...` alone still runs the rest.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"agentfield/agent"
	"agentfield/agent/internal/websocket"
)

const waitLimit = 60 * time.Second

type stack struct {
	server, admin, caller string
	agentKeys             map[string]string
}

func liveStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{
		server: getenv("AGENTFIELD_GO_TEST_SERVER"),
		admin:  getenv("AGENTFIELD_GO_TEST_ADMIN_KEY"),
		caller: getenv("AGENTFIELD_GO_TEST_CALLER_KEY"),
	}
	if s.server == "" || s.admin == "" || s.caller == "" {
		t.Skip("no control plane: run through tests/sdk_go/test_go_sdk.py (make test)")
	}
	if err := json.Unmarshal([]byte(getenv("AGENTFIELD_GO_TEST_AGENT_KEYS")), &s.agentKeys); err != nil {
		t.Fatalf("AGENTFIELD_GO_TEST_AGENT_KEYS: %v", err)
	}
	return s
}

// api sends one JSON request with key and returns the status and JSON body.
func (s *stack) api(t *testing.T, method, path, key string, body any) (int, map[string]any) {
	t.Helper()
	var reader io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		reader = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, s.server+path, reader)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// eventually polls cond until it holds (an event wait, bounded so a broken
// build fails instead of hanging).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// node builds an agent for nodeID with that node's agent key.
func (s *stack) node(t *testing.T, cfg agent.Config) (*agent.Agent, *logBuffer) {
	t.Helper()
	key := s.agentKeys[cfg.NodeID]
	if key == "" {
		t.Fatalf("no agent key for %s", cfg.NodeID)
	}
	logs := &logBuffer{}
	cfg.AgentFieldURL, cfg.Token = s.server, key
	cfg.Logger = log.New(logs, "", 0)
	cfg.HeartbeatInterval = time.Second
	cfg.ApprovalPollInterval = 100 * time.Millisecond
	app, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return app, logs
}

// run serves app until the test ends or stop is called; it checks that Run
// returned nil and that the node's key never reached its logs.
func (s *stack) run(t *testing.T, app *agent.Agent, logs *logBuffer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if strings.Contains(logs.String(), s.agentKeys[app.NodeID()]) {
			t.Errorf("the node's key is in its logs")
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", app.NodeID(), logs.String())
		}
	})
	return stop
}

// approve approves every tag the node proposes, once it has registered.
func (s *stack) approve(t *testing.T, nodeID string) {
	t.Helper()
	var proposed []any
	eventually(t, nodeID+" pending approval", func() bool {
		_, pending := s.api(t, "GET", "/api/v1/admin/agents/pending", s.admin, nil)
		agents, _ := pending["agents"].([]any)
		for _, entry := range agents {
			if node := entry.(map[string]any); node["agent_id"] == nodeID {
				proposed, _ = node["proposed_tags"].([]any)
				return true
			}
		}
		return false
	})
	code, body := s.api(t, "POST", "/api/v1/admin/agents/"+nodeID+"/approve-tags", s.admin,
		map[string]any{"approved_tags": proposed})
	if code != http.StatusOK {
		t.Fatalf("approve %s: %d %v", nodeID, code, body)
	}
}

// readyOrApprove waits for app to be ready, approving its tags if its
// registration is pending (a node re-registered by a later test keeps the
// earlier decisions and is ready at once).
func (s *stack) readyOrApprove(t *testing.T, app *agent.Agent) {
	t.Helper()
	eventually(t, app.NodeID()+" ready", func() bool {
		select {
		case <-app.Ready():
			return true
		default:
		}
		_, pending := s.api(t, "GET", "/api/v1/admin/agents/pending", s.admin, nil)
		agents, _ := pending["agents"].([]any)
		for _, entry := range agents {
			if node := entry.(map[string]any); node["agent_id"] == app.NodeID() {
				s.api(t, "POST", "/api/v1/admin/agents/"+app.NodeID()+"/approve-tags", s.admin,
					map[string]any{"approved_tags": node["proposed_tags"]})
			}
		}
		return false
	})
}

func waitReady(t *testing.T, app *agent.Agent) {
	t.Helper()
	select {
	case <-app.Ready():
	case <-time.After(waitLimit):
		t.Fatalf("%s never became ready", app.NodeID())
	}
}

const spokenPrefix = "Go resolved: "

// supportNode is go-support: resolve_voice_turn answers at once (200); slow
// waits for release, so the node answers 202 and reports by the status callback.
func (s *stack) supportNode(t *testing.T, release <-chan struct{}, sessions chan<- string) *agent.Agent {
	app, logs := s.node(t, agent.Config{NodeID: "go-support", AsyncAfter: 200 * time.Millisecond})
	app.RegisterReasoner("resolve_voice_turn", func(ctx context.Context, input map[string]any) (any, error) {
		if sessions != nil {
			select {
			case sessions <- agent.ExecutionContextFrom(ctx).SessionID:
			default:
			}
		}
		text := fmt.Sprint(input["text"])
		if turn, ok := input["turn"].(map[string]any); ok {
			text = fmt.Sprint(turn["text"])
		}
		return map[string]any{"spoken_response": spokenPrefix + text}, nil
	}, agent.WithReasonerTags("support"))
	app.RegisterReasoner("slow", func(ctx context.Context, input map[string]any) (any, error) {
		select {
		case <-release:
			return map[string]any{"done": input["n"]}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}, agent.WithReasonerTags("support"))
	app.RegisterReasoner("chain", func(ctx context.Context, input map[string]any) (any, error) {
		// app.Call inside a reasoner joins its workflow as a child execution.
		return app.Call(ctx, "resolve_voice_turn", map[string]any{"text": input["text"]})
	}, agent.WithReasonerTags("support"))
	app.RegisterSkill("fails", func(ctx context.Context, input map[string]any) (any, error) {
		return nil, errors.New("the order system is down")
	}, agent.WithReasonerTags("support"))
	s.run(t, app, logs)
	return app
}

func TestAGoNodeWaitsForApprovalThenServesItsTargets(t *testing.T) {
	s := liveStack(t)
	release := make(chan struct{})
	app := s.supportNode(t, release, nil)
	eventually(t, "the registration", func() bool {
		_, node := s.api(t, "GET", "/api/v1/nodes/go-support", s.admin, nil)
		return node["status"] == "pending_approval"
	})
	code, body := s.api(t, "POST", "/api/v1/execute/go-support.resolve_voice_turn", s.admin,
		map[string]any{"input": map[string]any{"text": "too early"}})
	if code != http.StatusServiceUnavailable {
		t.Fatalf("a pending target answered %d %v", code, body)
	}
	select {
	case <-app.Ready():
		t.Fatal("the node was ready before its tags were approved")
	default:
	}
	s.approve(t, "go-support")
	waitReady(t, app)

	_, node := s.api(t, "GET", "/api/v1/nodes/go-support", s.admin, nil)
	if node["status"] != "ready" || node["base_url"] != app.BaseURL() {
		t.Fatalf("node: %v", node)
	}

	code, body = s.api(t, "POST", "/api/v1/execute/go-support.resolve_voice_turn", s.admin,
		map[string]any{"input": map[string]any{"text": "order 7"}})
	if code != 200 || body["status"] != "succeeded" ||
		body["result"].(map[string]any)["spoken_response"] != spokenPrefix+"order 7" {
		t.Fatalf("execute: %d %v", code, body)
	}

	code, body = s.api(t, "POST", "/api/v1/execute/go-support.chain", s.admin,
		map[string]any{"input": map[string]any{"text": "nested"}})
	if code != 200 || body["status"] != "succeeded" || body["result"].(map[string]any)["spoken_response"] != spokenPrefix+"nested" {
		t.Fatalf("chain: %d %v", code, body)
	}
	parentID := body["execution_id"].(string)
	_, parent := s.api(t, "GET", "/api/v1/executions/"+parentID, s.admin, nil)
	_, dag := s.api(t, "GET", "/api/v1/workflows/"+parent["workflow_id"].(string)+"/dag", s.admin, nil)
	nodes, _ := dag["nodes"].([]any)
	if len(nodes) != 2 || fmt.Sprint(dag["edges"]) != fmt.Sprintf("[map[from:%s to:%s]]", parentID, childOf(nodes, parentID)) {
		t.Fatalf("dag: %v", dag)
	}

	code, body = s.api(t, "POST", "/api/v1/execute/go-support.fails", s.admin, map[string]any{"input": map[string]any{}})
	if code != 200 || body["status"] != "failed" || !strings.Contains(fmt.Sprint(body["error_message"]), "the order system is down") {
		t.Fatalf("failing skill: %d %v", code, body)
	}

	// Only the control plane, with the dispatch token, may call the node.
	for _, authorization := range []string{"", "Bearer not-the-token", "Basic " + s.agentKeys["go-support"]} {
		req, _ := http.NewRequest("POST", app.BaseURL()+"/reasoners/resolve_voice_turn", strings.NewReader(`{"text":"x"}`))
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a call with Authorization %q answered %d", authorization, resp.StatusCode)
		}
	}

	// Long work: 202 at once, then the status callback finishes the execution.
	code, body = s.api(t, "POST", "/api/v1/execute/async/go-support.slow", s.admin, map[string]any{"input": map[string]any{"n": 3}})
	if code != http.StatusAccepted {
		t.Fatalf("execute/async: %d %v", code, body)
	}
	executionID := body["execution_id"].(string)
	eventually(t, "the node's 202", func() bool {
		_, execution := s.api(t, "GET", "/api/v1/executions/"+executionID, s.admin, nil)
		return execution["status"] == "running" && execution["status_reason"] == "awaiting the agent's status callback"
	})
	close(release)
	var execution map[string]any
	eventually(t, "the status callback", func() bool {
		_, execution = s.api(t, "GET", "/api/v1/executions/"+executionID, s.admin, nil)
		return execution["status"] != "running"
	})
	if execution["status"] != "succeeded" || execution["result"].(map[string]any)["done"] != 3.0 {
		t.Fatalf("execution: %v", execution)
	}
}

func childOf(nodes []any, parentID string) string {
	for _, entry := range nodes {
		node := entry.(map[string]any)
		if node["parent_execution_id"] == parentID && node["target"] == "go-support.resolve_voice_turn" {
			return node["execution_id"].(string)
		}
	}
	return "(no child)"
}

func TestTheControlPlaneRefusesWhatRegisterSessionRefusesWithTheSameMessage(t *testing.T) {
	s := liveStack(t)
	app, _ := s.node(t, agent.Config{NodeID: "go-refused"})
	for _, pair := range [][3]string{{"", "webrtc"}, {"openai", ""}, {"custom", "webrtc"}, {"openrouter", "webrtc"},
		{"openai", "webrtc", "p2p"}, {"openai", "websocket", "direct"}} {
		sdkErr := app.RegisterSession("voice", pair[0], pair[1], agent.WithSessionMedia(pair[2]))
		if sdkErr == nil {
			t.Fatalf("RegisterSession%v accepted", pair)
		}
		session := map[string]any{"name": "voice", "provider": pair[0], "transport": pair[1], "media": pair[2]}
		code, body := s.api(t, "POST", "/api/v1/nodes/register", s.agentKeys["go-refused"], map[string]any{
			"id": "go-refused", "base_url": "http://127.0.0.1:9", "sessions": []any{session},
		})
		if code != http.StatusBadRequest || body["error"] != sdkErr.Error() {
			t.Fatalf("%v: control plane %d %v\nSDK %q", pair, code, body, sdkErr.Error())
		}
	}
}

func TestRunReturnsTheControlPlanesRefusal(t *testing.T) {
	s := liveStack(t)
	// go-refused's key may register go-refused only.
	app, err := agent.New(agent.Config{NodeID: "go-intruder", AgentFieldURL: s.server,
		Token: s.agentKeys["go-refused"], Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	app.RegisterReasoner("lookup", func(ctx context.Context, input map[string]any) (any, error) { return nil, nil })
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	err = app.Run(ctx)
	var refused *agent.RegistrationError
	if !errors.As(err, &refused) || refused.StatusCode != http.StatusForbidden || refused.Message == "" {
		t.Fatalf("Run = %v", err)
	}
}

// realtime is a caller's WebSocket to a session's /realtime route.
type realtime struct {
	t    *testing.T
	conn *websocket.Conn
	seen []map[string]any
}

func (s *stack) startCall(t *testing.T, target string) (string, *realtime) {
	t.Helper()
	code, started := s.api(t, "POST", "/api/v1/session-targets/"+target+"/start", s.caller, map[string]any{})
	if code != http.StatusCreated {
		t.Fatalf("start %s: %d %v", target, code, started)
	}
	wsURL := "ws" + strings.TrimPrefix(s.server, "http") + started["ws_url"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := websocket.Dial(ctx, wsURL, http.Header{"X-API-Key": {s.caller}})
	if err != nil {
		t.Fatalf("realtime: %v", err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	call := &realtime{t: t, conn: conn}
	call.until("agentfield.session.active")
	return started["session_id"].(string), call
}

func (c *realtime) until(eventType string) map[string]any {
	c.t.Helper()
	c.conn.NetConn().SetReadDeadline(time.Now().Add(waitLimit))
	for {
		_, raw, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v (seen %d events)", eventType, err, len(c.seen))
		}
		var event map[string]any
		json.Unmarshal(raw, &event)
		c.seen = append(c.seen, event)
		if event["type"] == eventType {
			return event
		}
	}
}

func (c *realtime) say(text string) {
	c.t.Helper()
	event := map[string]any{"type": "conversation.item.create", "item": map[string]any{
		"type": "message", "role": "user", "content": []any{map[string]any{"type": "input_text", "text": text}},
	}}
	raw, _ := json.Marshal(event)
	if err := c.conn.WriteMessage(websocket.OpText, raw); err != nil {
		c.t.Fatal(err)
	}
}

func TestAModelDrivenGoSessionsToolCallRunsAGoReasoner(t *testing.T) {
	s := liveStack(t)
	sessions := make(chan string, 1)
	support := s.supportNode(t, nil, sessions)
	voice, logs := s.node(t, agent.Config{NodeID: "go-voice"})
	err := voice.RegisterSession("voice", "openai", "websocket",
		agent.WithSessionModel("gpt-realtime-2"),
		agent.WithSessionVoice("marin"),
		agent.WithSessionTools("go-support.resolve_voice_turn"),
		agent.WithSessionTags("support:voice"),
	)
	if err != nil {
		t.Fatal(err)
	}
	s.run(t, voice, logs)
	s.approve(t, "go-voice")
	waitReady(t, voice)
	s.readyOrApprove(t, support)

	_, node := s.api(t, "GET", "/api/v1/nodes/go-voice", s.admin, nil)
	registered := node["sessions"].([]any)[0].(map[string]any)
	if registered["transport"] != "websocket" || registered["handler"] != false ||
		fmt.Sprint(registered["tools"]) != "[go-support.resolve_voice_turn]" {
		t.Fatalf("registered session: %v", registered)
	}

	sessionID, call := s.startCall(t, "go-voice.voice")
	call.say("please resolve voice turn for order 42")
	toolCall := call.until("agentfield.tool.call")
	result := call.until("agentfield.tool.result")
	if toolCall["tool"] != "resolve_voice_turn" || result["status"] != "succeeded" {
		t.Fatalf("tool call %v, result %v", toolCall, result)
	}
	spoken := call.until("response.output_audio_transcript.done")
	if spoken["transcript"] != spokenPrefix+"please resolve voice turn for order 42" {
		t.Fatalf("the model said %q", spoken["transcript"])
	}
	if got := <-sessions; got != sessionID {
		t.Fatalf("the reasoner ran with X-Session-ID %q, want %q", got, sessionID)
	}
	_, execution := s.api(t, "GET", "/api/v1/executions/"+toolCall["execution_id"].(string), s.admin, nil)
	if execution["session_id"] != sessionID || execution["target"] != "go-support.resolve_voice_turn" {
		t.Fatalf("execution: %v", execution)
	}
}

func TestAGoSessionHandlerRunsOncePerTurnUntilItEndsTheCall(t *testing.T) {
	s := liveStack(t)
	calledIn := make(chan string, 10)
	support := s.supportNode(t, nil, calledIn)
	desk, logs := s.node(t, agent.Config{NodeID: "go-desk"})
	var mu sync.Mutex
	invocations := 0
	handlerSessions := []string{}
	err := desk.RegisterSession("desk", "openai", "websocket",
		agent.WithSessionTools("go-support.resolve_voice_turn"),
		agent.WithSessionTags("support:desk"),
		agent.WithSessionHandler(func(ctx context.Context, session *agent.Session) error {
			mu.Lock()
			invocations++
			handlerSessions = append(handlerSessions, agent.ExecutionContextFrom(ctx).SessionID)
			mu.Unlock()
			turn, err := session.Input(ctx)
			if err != nil {
				return err
			}
			switch turn.Text {
			case "bye":
				return session.End(ctx, "resolved")
			case "fail":
				return errors.New("boom")
			}
			call := session.Call
			if turn.Text == "and order 2" {
				call = desk.Call // app.Call inside a handler joins the session too
			}
			result, err := call(ctx, "go-support.resolve_voice_turn", map[string]any{"turn": turn})
			if err != nil {
				return err
			}
			return session.Say(ctx, result["spoken_response"].(string))
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	stopDesk := s.run(t, desk, logs)
	s.approve(t, "go-desk")
	waitReady(t, desk)
	s.readyOrApprove(t, support)
	_, node := s.api(t, "GET", "/api/v1/nodes/go-desk", s.admin, nil)
	if node["sessions"].([]any)[0].(map[string]any)["handler"] != true {
		t.Fatalf("the session is not registered with a handler: %v", node["sessions"])
	}

	sessionID, call := s.startCall(t, "go-desk.desk")
	for _, text := range []string{"where is order 1", "and order 2"} {
		call.say(text)
		said := call.until("response.output_audio_transcript.done")
		if said["transcript"] != spokenPrefix+text {
			t.Fatalf("after %q the caller heard %q", text, said["transcript"])
		}
	}
	call.say("bye")
	ended := call.until("agentfield.session.ended")
	if ended["reason"] != "resolved" {
		t.Fatalf("ended: %v", ended)
	}
	for i := 0; i < 2; i++ {
		if got := <-calledIn; got != sessionID {
			t.Errorf("a handler's call ran with X-Session-ID %q, want %q", got, sessionID)
		}
	}
	mu.Lock()
	if invocations != 3 {
		t.Errorf("the handler ran %d times for 3 turns", invocations)
	}
	for _, id := range handlerSessions {
		if id != sessionID {
			t.Errorf("a handler ran with session id %q, want %q", id, sessionID)
		}
	}
	mu.Unlock()
	_, state := s.api(t, "GET", "/api/v1/session-instances/"+sessionID, s.caller, nil)
	if state["status"] != "ended" || state["end_reason"] != "resolved" {
		t.Fatalf("session: %v", state)
	}

	// A handler that returns an error fails the call with its message.
	_, failing := s.startCall(t, "go-desk.desk")
	failing.say("fail")
	failed := failing.until("agentfield.session.failed")
	if failed["reason"] != "handler error: boom" {
		t.Fatalf("failed: %v", failed)
	}

	// Stopping the node ends its live calls.
	_, live := s.startCall(t, "go-desk.desk")
	eventually(t, "the handler of the last call", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return invocations == 5
	})
	stopDesk()
	ended = live.until("agentfield.session.ended")
	if ended["reason"] != "the agent node is shutting down" {
		t.Fatalf("ended: %v", ended)
	}
}

func getenv(name string) string { return strings.TrimSpace(os.Getenv(name)) }
