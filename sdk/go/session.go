package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// SessionDefinition is what a node declares about one session; it is sent at
// registration (top-level "sessions" and upstream's metadata.custom.sessions).
type SessionDefinition struct {
	Name          string         `json:"name"`
	Provider      string         `json:"provider"`
	Transport     string         `json:"transport"`
	Media         string         `json:"media"`
	Model         string         `json:"model"`
	Modalities    []string       `json:"modalities"`
	Voice         string         `json:"voice"`
	Tools         []string       `json:"tools"`
	Tags          []string       `json:"tags"`
	ProposedTags  []string       `json:"proposed_tags"`
	ApprovedTags  []string       `json:"approved_tags"`
	Metadata      map[string]any `json:"metadata"`
	TurnDetection *TurnDetection `json:"turn_detection"`
	Instructions  string         `json:"instructions"`
	Handler       bool           `json:"handler"`
}

// SessionHandler runs one user turn of a live call (see Session). Returning nil
// keeps the call open: the next user turn runs the handler again. Returning an
// error fails the call with that message.
type SessionHandler func(ctx context.Context, s *Session) error

type sessionConfig struct {
	def           SessionDefinition
	turnDetection *TurnDetection
	handler       SessionHandler
	tagsErr       error
}

// SessionOption configures RegisterSession.
type SessionOption func(*sessionConfig)

// WithSessionMedia sets how a webrtc session's media flows: "relay" (the
// default: through the control plane) or "direct" (browser to provider, with a
// control-plane sideband). Other transports take none.
func WithSessionMedia(media string) SessionOption {
	return func(c *sessionConfig) { c.def.Media = media }
}

// WithSessionModel sets the realtime model.
func WithSessionModel(model string) SessionOption {
	return func(c *sessionConfig) { c.def.Model = model }
}

// WithSessionModalities sets the modalities (default "audio", "text").
func WithSessionModalities(modalities ...string) SessionOption {
	return func(c *sessionConfig) { c.def.Modalities = modalities }
}

// WithSessionVoice sets the provider voice.
func WithSessionVoice(voice string) SessionOption {
	return func(c *sessionConfig) { c.def.Voice = voice }
}

// WithSessionTools sets the provider-visible tool allowlist ("<node>.<reasoner>"
// or a reasoner of this node).
func WithSessionTools(tools ...string) SessionOption {
	return func(c *sessionConfig) { c.def.Tools = tools }
}

// WithSessionTags sets the session's proposed tags (tags and proposed_tags).
func WithSessionTags(tags ...string) SessionOption {
	return func(c *sessionConfig) { c.def.Tags = tags }
}

// WithSessionMetadata sets free-form metadata.
func WithSessionMetadata(metadata map[string]any) SessionOption {
	return func(c *sessionConfig) { c.def.Metadata = metadata }
}

// WithSessionTurnDetection sets OpenAI turn detection (nil: upstream defaults).
func WithSessionTurnDetection(config *TurnDetection) SessionOption {
	return func(c *sessionConfig) { c.turnDetection = config }
}

// WithSessionInstructions sets the model's instructions.
func WithSessionInstructions(instructions string) SessionOption {
	return func(c *sessionConfig) { c.def.Instructions = instructions }
}

// WithSessionHandler makes this node run the session's calls: the control plane
// sends each user turn over the agent link and speaks what the handler says.
// Without it the session is model-driven (the realtime model answers and calls
// the session's tools by itself).
func WithSessionHandler(handler SessionHandler) SessionOption {
	return func(c *sessionConfig) { c.handler = handler }
}

func cleanList(values []string) []string {
	out := []string{}
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func cleanTags(values []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, v := range cleanList(values) {
		v = strings.ToLower(v)
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func checkTargetName(name, kind string) (string, error) {
	trimmed := strings.TrimSpace(name)
	if trimmed == "" || strings.Contains(trimmed, ".") {
		return "", fmt.Errorf("%s name '%s' is invalid: it must be non-empty and have no dots", kind, name)
	}
	return trimmed, nil
}

// buildSessionDefinition checks the name like the Python SDK's app.session,
// then normalizes the options' definition like the control plane
// (NormalizeSessionDefinition), returning its exact messages.
func buildSessionDefinition(name, provider, transport string, opts []SessionOption) (SessionDefinition, SessionHandler, error) {
	cfg := sessionConfig{}
	for _, opt := range opts {
		opt(&cfg)
	}
	trimmed, err := checkTargetName(name, "session")
	if err != nil {
		return SessionDefinition{}, nil, err
	}
	raw := map[string]any{
		"name": trimmed, "provider": provider, "transport": transport, "media": cfg.def.Media,
		"model": cfg.def.Model, "voice": cfg.def.Voice, "instructions": cfg.def.Instructions,
		"modalities": cfg.def.Modalities, "tools": cfg.def.Tools, "tags": cfg.def.Tags,
		"handler": cfg.handler != nil,
	}
	if cfg.def.Metadata != nil {
		raw["metadata"] = cfg.def.Metadata
	}
	if cfg.turnDetection != nil {
		if raw["turn_detection"], err = asJSONValue(cfg.turnDetection); err != nil {
			return SessionDefinition{}, nil, err
		}
	}
	def, err := NormalizeSessionDefinition(raw)
	if err != nil {
		return SessionDefinition{}, nil, err
	}
	return def, cfg.handler, nil
}

// Turn is one user turn of a live call.
type Turn struct {
	Text     string `json:"text"`
	Modality string `json:"modality"`
	AudioMS  int    `json:"audio_ms"`
	TurnID   string `json:"turn_id"`
}

// ErrSessionEnded is returned (wrapped) by Session methods once the call is over.
var ErrSessionEnded = errors.New("session ended")

// Session is one live call of a session this node handles. The handler runs
// once per user turn: Input returns the turn waiting for it (or waits for one),
// Say speaks exactly a text, Call runs a reasoner or skill with this session's
// id attached, End hangs up.
type Session struct {
	ID         string
	Name       string
	Target     string
	Caller     string
	Metadata   map[string]any
	Definition SessionDefinition

	agent    *Agent
	mu       sync.Mutex
	turns    []Turn
	pushed   int
	consumed int
	changed  chan struct{}
	ended    bool
	reason   string
}

func newSession(a *Agent, id, target, caller string, metadata map[string]any, def SessionDefinition) *Session {
	if metadata == nil {
		metadata = map[string]any{}
	}
	return &Session{
		ID: id, Name: def.Name, Target: target, Caller: caller, Metadata: metadata, Definition: def,
		agent: a, changed: make(chan struct{}),
	}
}

func (s *Session) endedError() error {
	if s.reason == "" {
		return fmt.Errorf("session %s: %w", s.ID, ErrSessionEnded)
	}
	return fmt.Errorf("session %s: %w: %s", s.ID, ErrSessionEnded, s.reason)
}

// notifyLocked wakes every waiter; s.mu must be held.
func (s *Session) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Input returns the next user turn, waiting for one if none is queued. It
// fails with ErrSessionEnded once the call is over, or with ctx's error.
func (s *Session) Input(ctx context.Context) (Turn, error) {
	for {
		s.mu.Lock()
		if s.ended {
			err := s.endedError()
			s.mu.Unlock()
			return Turn{}, err
		}
		if len(s.turns) > 0 {
			turn := s.turns[0]
			s.turns = s.turns[1:]
			s.consumed++
			s.mu.Unlock()
			return turn, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return Turn{}, ctx.Err()
		}
	}
}

// Say speaks exactly text to the caller.
func (s *Session) Say(ctx context.Context, text string) error {
	if s.Ended() {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.endedError()
	}
	return s.agent.sendLink(ctx, map[string]any{"type": "session.say", "session_id": s.ID, "text": text})
}

// End hangs up (idempotent; a no-op once the call is over).
func (s *Session) End(ctx context.Context, reason string) error {
	if s.Ended() {
		return nil
	}
	message := map[string]any{"type": "session.end", "session_id": s.ID}
	if reason != "" {
		message["reason"] = reason
	}
	err := s.agent.sendLink(ctx, message)
	if reason == "" {
		reason = "ended by the handler"
	}
	s.markEnded(reason)
	return err
}

// Call runs "<node>.<name>" through the control plane with X-Session-ID set to
// this session, like Agent.Call.
func (s *Session) Call(ctx context.Context, target string, input map[string]any) (map[string]any, error) {
	return s.agent.Call(withSessionID(ctx, s.ID), target, input)
}

// Ended reports whether the call is over.
func (s *Session) Ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

func (s *Session) pushTurn(turn Turn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.turns = append(s.turns, turn)
		s.pushed++
		s.notifyLocked()
	}
}

func (s *Session) markEnded(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.ended, s.reason = true, reason
		s.notifyLocked()
	}
}

// counts are the turns received and read so far, and those waiting.
func (s *Session) counts() (pushed, consumed, queued int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pushed, s.consumed, len(s.turns)
}

// waitForTurnAfter waits until more than seen turns have arrived; false when
// the call ended (or ctx was cancelled) first.
func (s *Session) waitForTurnAfter(ctx context.Context, seen int) bool {
	for {
		s.mu.Lock()
		if s.ended {
			s.mu.Unlock()
			return false
		}
		if s.pushed > seen {
			s.mu.Unlock()
			return true
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

func (s *Session) endReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reason == "" {
		return "-"
	}
	return s.reason
}
