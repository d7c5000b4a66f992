package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"agentfield/agent"
)

func newAgent(t *testing.T, nodeID string) *agent.Agent {
	t.Helper()
	app, err := agent.New(agent.Config{NodeID: nodeID, Token: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func TestTheBriefsSessionIsDeclaredWithItsDefinition(t *testing.T) {
	app := newAgent(t, "voice-support-af")
	err := app.RegisterSession("voice", "OpenAI", "WebRTC",
		agent.WithSessionModel("gpt-realtime-2"),
		agent.WithSessionModalities("audio", "text"),
		agent.WithSessionVoice("marin"),
		agent.WithSessionTools("support.resolve_voice_turn"),
		agent.WithSessionTags("support:voice", "PII:limited"),
	)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(app.SessionDefinitions())
	var got []map[string]any
	json.Unmarshal(raw, &got)
	want := []map[string]any{{
		"name": "voice", "provider": "openai", "transport": "webrtc", "media": "relay", "model": "gpt-realtime-2",
		"modalities": []any{"audio", "text"}, "voice": "marin",
		"tools": []any{"support.resolve_voice_turn"}, "tags": []any{"pii:limited", "support:voice"},
		"proposed_tags": []any{"pii:limited", "support:voice"}, "approved_tags": []any{},
		"metadata": map[string]any{}, "instructions": "", "handler": false,
		"turn_detection": map[string]any{"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300.0,
			"silence_duration_ms": 500.0, "create_response": true, "interrupt_response": true},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("definition\n got %v\nwant %v", got, want)
	}
	payload, _ := json.Marshal(app.RegistrationPayload())
	var body map[string]any
	json.Unmarshal(payload, &body)
	custom := body["metadata"].(map[string]any)["custom"].(map[string]any)
	if !reflect.DeepEqual(custom["sessions"], body["sessions"]) || len(body["sessions"].([]any)) != 1 {
		t.Fatalf("sessions must be both top-level and in metadata.custom: %s", payload)
	}
	if custom["sdk"].(map[string]any)["language"] != "go" {
		t.Fatalf("sdk language: %v", custom["sdk"])
	}
}

func TestSessionOptionsReachTheDefinition(t *testing.T) {
	app := newAgent(t, "desk")
	no := false
	err := app.RegisterSession("chat", "openai", "websocket",
		agent.WithSessionMetadata(map[string]any{"team": "a"}),
		agent.WithSessionTurnDetection(&agent.TurnDetection{Type: "semantic_vad", CreateResponse: &no}),
		agent.WithSessionInstructions("Be brief."),
		agent.WithSessionHandler(nil),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.RegisterSession("turns", "openrouter", "audio-turns"); err != nil {
		t.Fatal(err)
	}
	defs := app.SessionDefinitions()
	chat, turns := defs[0], defs[1]
	if chat.Metadata["team"] != "a" || chat.Instructions != "Be brief." || chat.Handler {
		t.Fatalf("chat: %+v", chat)
	}
	td := chat.TurnDetection
	if td.Type != "semantic_vad" || td.Eagerness != "auto" || *td.CreateResponse || !*td.InterruptResponse || td.Threshold != nil {
		t.Fatalf("turn detection: %+v", td)
	}
	if turns.Transport != "audio_turns" || turns.TurnDetection != nil || turns.Media != "" || chat.Media != "" {
		t.Fatalf("turns: %+v", turns)
	}
	if err := app.RegisterSession("call", "openai", "webrtc", agent.WithSessionMedia(" Direct ")); err != nil {
		t.Fatal(err)
	}
	if err := app.RegisterSession("relayed", "openai", "webrtc"); err != nil {
		t.Fatal(err)
	}
	defs = app.SessionDefinitions()
	if defs[2].Media != "direct" || defs[3].Media != "relay" {
		t.Fatalf("media: %q, %q (relay is the default)", defs[2].Media, defs[3].Media)
	}
	raw, _ := json.Marshal(app.RegistrationPayload())
	if !strings.Contains(string(raw), `"name":"call","provider":"openai","transport":"webrtc","media":"direct"`) {
		t.Fatalf("registration does not send the media: %s", raw)
	}
	if err := app.RegisterSession("chat", "openai", "websocket"); err == nil {
		t.Fatal("a second session named chat was accepted")
	}
}

func TestInvalidDeclarationsReturnTheControlPlanesMessages(t *testing.T) {
	half := 1.5
	cases := []struct {
		provider, transport string
		opts                []agent.SessionOption
		want                string
	}{
		{"", "webrtc", nil, "Session provider is required; AgentField does not infer providers."},
		{"openai", " ", nil, "Session transport is required; AgentField does not infer transports."},
		{"custom", "webrtc", nil, "Unknown session provider 'custom'. Known providers: openai, openrouter. " +
			"Register provider capabilities before using a custom session provider."},
		{"openrouter", "webrtc", nil, "Unsupported session transport 'webrtc' for provider 'openrouter'. " +
			"Supported transports: audio_turns. AgentField does not infer or switch providers; set provider and transport explicitly."},
		{"openrouter", "audio_turns", []agent.SessionOption{agent.WithSessionTurnDetection(&agent.TurnDetection{Type: "server_vad"})},
			"turn_detection requires provider=openai and transport=webrtc or websocket"},
		{"openai", "webrtc", []agent.SessionOption{agent.WithSessionTurnDetection(&agent.TurnDetection{Type: "server_vad", Threshold: &half})},
			"turn_detection.threshold must be a finite number between 0 and 1"},
		{"openai", "webrtc", []agent.SessionOption{agent.WithSessionTurnDetection(&agent.TurnDetection{Type: "loud"})},
			"turn_detection.type must be server_vad or semantic_vad"},
		{"openai", "webrtc", []agent.SessionOption{agent.WithSessionMedia("p2p")},
			"Unknown session media 'p2p'. Known media: direct, relay. AgentField does not infer media; set media explicitly."},
		{"openai", "websocket", []agent.SessionOption{agent.WithSessionMedia("direct")},
			"Session media applies to transport 'webrtc' only; transport 'websocket' always carries its media " +
				"through the control plane. Leave media out or set it to relay."},
	}
	app := newAgent(t, "voice")
	for _, c := range cases {
		err := app.RegisterSession("voice", c.provider, c.transport, c.opts...)
		if err == nil || err.Error() != c.want {
			t.Errorf("RegisterSession(%q, %q) = %v\nwant %s", c.provider, c.transport, err, c.want)
		}
	}
	var typed *agent.SessionTransportError
	err := app.RegisterSession("voice", "OpenRouter", "WebRTC")
	if !errors.As(err, &typed) || typed.Provider != "openrouter" || typed.Transport != "webrtc" ||
		!reflect.DeepEqual(typed.Supported, []string{"audio_turns"}) {
		t.Fatalf("typed error: %#v", err)
	}
	if err := app.RegisterSession("a.b", "openai", "webrtc"); err == nil || !strings.Contains(err.Error(), "no dots") {
		t.Fatalf("dotted name: %v", err)
	}
	if len(app.SessionDefinitions()) != 0 {
		t.Fatal("a refused declaration was kept")
	}
}

func TestReasonersAndSkillsAreDeclaredWithTheirTags(t *testing.T) {
	app := newAgent(t, "support")
	handler := func(ctx context.Context, input map[string]any) (any, error) { return nil, nil }
	app.RegisterReasoner("lookup", handler, agent.WithReasonerTags("Support"), agent.WithDescription("Looks up."))
	app.RegisterSkill("format", handler, agent.WithInputSchema(json.RawMessage(`{"type":"object","required":["x"]}`)))
	raw, _ := json.Marshal(app.RegistrationPayload())
	var body struct {
		Reasoners []map[string]any `json:"reasoners"`
		Skills    []map[string]any `json:"skills"`
	}
	json.Unmarshal(raw, &body)
	if len(body.Reasoners) != 1 || body.Reasoners[0]["id"] != "lookup" || body.Reasoners[0]["description"] != "Looks up." ||
		!reflect.DeepEqual(body.Reasoners[0]["proposed_tags"], []any{"support"}) {
		t.Fatalf("reasoners: %v", body.Reasoners)
	}
	if len(body.Skills) != 1 || !reflect.DeepEqual(body.Skills[0]["input_schema"].(map[string]any)["required"], []any{"x"}) {
		t.Fatalf("skills: %v", body.Skills)
	}
	app.RegisterReasoner("format", handler)
	if err := app.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "already declares a target 'format'") {
		t.Fatalf("Run with a duplicate target: %v", err)
	}
}
