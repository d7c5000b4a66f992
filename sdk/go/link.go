package agent

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand"
	"net/http"
	"strings"
	"sync"
	"time"

	"agentfield/agent/internal/websocket"
)

const (
	linkMinBackoff = 500 * time.Millisecond
	linkMaxBackoff = 10 * time.Second
	linkPing       = 20 * time.Second // a silent link is given up after two of these
	linkSendWait   = 10 * time.Second
	endGrace       = 5 * time.Second
)

// agentLink is the node's WebSocket to /api/v1/nodes/<id>/link (API.md
// section 7). It reconnects with backoff whenever it drops; live calls survive
// a reconnect, since the control plane sends to the node's newest link.
type agentLink struct {
	agent     *Agent
	url       string
	onMessage func(map[string]any)
	ping      time.Duration // the ping interval; no frame for two of them drops the link

	mu      sync.Mutex
	conn    *websocket.Conn
	up      chan struct{} // closed while connected (after link.ready)
	closing bool
}

func linkURL(server, nodeID string) string {
	base := strings.TrimRight(server, "/")
	switch {
	case strings.HasPrefix(base, "https://"):
		base = "wss://" + strings.TrimPrefix(base, "https://")
	case strings.HasPrefix(base, "http://"):
		base = "ws://" + strings.TrimPrefix(base, "http://")
	}
	return base + "/api/v1/nodes/" + nodeID + "/link"
}

func newAgentLink(a *Agent, onMessage func(map[string]any)) *agentLink {
	return &agentLink{agent: a, url: linkURL(a.server, a.cfg.NodeID), onMessage: onMessage,
		ping: linkPing, up: make(chan struct{})}
}

// connected is closed once the link is up (replaced after a drop).
func (l *agentLink) connected() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up
}

func (l *agentLink) run(ctx context.Context) {
	backoff := linkMinBackoff
	logger, node := l.agent.logger, l.agent.cfg.NodeID
	for ctx.Err() == nil {
		dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := websocket.Dial(dialCtx, l.url, http.Header{"X-API-Key": {l.agent.apiKey}})
		cancel()
		if err != nil {
			var refused *websocket.HandshakeError
			if errors.As(err, &refused) {
				logger.Printf("agent link for %s refused (HTTP %d)", node, refused.StatusCode)
			} else if ctx.Err() == nil {
				logger.Printf("agent link for %s failed: could not connect", node)
			}
		} else {
			if l.serve(ctx, conn) {
				backoff = linkMinBackoff
			}
		}
		if ctx.Err() != nil {
			return
		}
		jitter := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter):
		}
		if backoff *= 2; backoff > linkMaxBackoff {
			backoff = linkMaxBackoff
		}
	}
}

// serve reads one connection until it drops; true if it reached link.ready.
func (l *agentLink) serve(ctx context.Context, conn *websocket.Conn) bool {
	l.mu.Lock()
	l.conn = conn
	closing := l.closing
	l.mu.Unlock()
	if closing {
		conn.CloseNow()
		return false
	}
	// The control plane answers every ping, so a link with no frame for two
	// intervals is dead (a half-open TCP connection would otherwise block the
	// read forever); the read fails and run reconnects. A write stuck as long
	// fails too (Conn.WriteTimeout) and closes the connection.
	conn.ReadTimeout = 2 * l.ping
	stopPing := make(chan struct{})
	go func() {
		ticker := time.NewTicker(l.ping)
		defer ticker.Stop()
		for {
			select {
			case <-stopPing:
				return
			case <-ticker.C:
				conn.Ping(nil)
			}
		}
	}()
	ready := false
	for {
		_, raw, err := conn.ReadMessage()
		if err != nil {
			break
		}
		var message map[string]any
		if json.Unmarshal(raw, &message) != nil {
			l.agent.logger.Printf("agent link for %s: ignoring a frame that is not a JSON object", l.agent.cfg.NodeID)
			continue
		}
		switch message["type"] {
		case "link.ready":
			if !ready {
				ready = true
				l.agent.logger.Printf("agent link for %s is open", l.agent.cfg.NodeID)
				l.mu.Lock()
				close(l.up)
				l.mu.Unlock()
			}
		case "error":
			l.agent.logger.Printf("agent link for %s: control plane says: %v", l.agent.cfg.NodeID, message["message"])
		default:
			l.onMessage(message)
		}
	}
	close(stopPing)
	conn.CloseNow()
	l.mu.Lock()
	l.conn = nil
	if ready {
		l.up = make(chan struct{})
	}
	closing = l.closing
	l.mu.Unlock()
	if ready && !closing && ctx.Err() == nil {
		l.agent.logger.Printf("agent link for %s dropped; reconnecting", l.agent.cfg.NodeID)
	}
	return ready
}

// send writes one message, waiting up to linkSendWait for the link to be up.
func (l *agentLink) send(ctx context.Context, message map[string]any) error {
	raw, err := json.Marshal(message)
	if err != nil {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, linkSendWait)
	defer cancel()
	select {
	case <-l.connected():
	case <-wait.Done():
		return errors.New("the agent link of " + l.agent.cfg.NodeID + " is not connected")
	}
	l.mu.Lock()
	conn := l.conn
	l.mu.Unlock()
	if conn == nil {
		return errors.New("the agent link of " + l.agent.cfg.NodeID + " is not connected")
	}
	return conn.WriteMessage(websocket.OpText, raw)
}

// close starts the closing handshake of the current connection and keeps the
// link from reconnecting. Run calls it after the live calls were ended, so
// their session.end still goes out over this link.
func (l *agentLink) close() {
	l.mu.Lock()
	l.closing = true
	conn := l.conn
	l.mu.Unlock()
	if conn != nil {
		conn.Close(websocket.CloseNormal, "", 2*time.Second)
	}
}

func (a *Agent) sendLink(ctx context.Context, message map[string]any) error {
	if a.link == nil {
		return errors.New("the agent link of " + a.cfg.NodeID + " is not open")
	}
	return a.link.send(ctx, message)
}

// sessionHost runs the node's session handlers: one goroutine per live call.
// session.started starts it, session.input queues a turn, session.ended ends
// it. A handler that returns nil waits for the next turn and runs again; one
// that returns an error (or panics) fails the call (session.error).
type sessionHost struct {
	agent *Agent
	mu    sync.Mutex
	live  map[string]*liveCall
	wg    sync.WaitGroup
}

type liveCall struct {
	session *Session
	cancel  context.CancelFunc
}

func newSessionHost(a *Agent) *sessionHost {
	return &sessionHost{agent: a, live: map[string]*liveCall{}}
}

func (h *sessionHost) onMessage(message map[string]any) {
	sessionID, _ := message["session_id"].(string)
	if sessionID == "" {
		return
	}
	switch message["type"] {
	case "session.started":
		h.start(sessionID, message)
	case "session.input":
		h.input(sessionID, message)
	case "session.ended":
		reason, _ := message["reason"].(string)
		h.ended(sessionID, reason)
	}
}

func (h *sessionHost) tell(kind, sessionID, text string) {
	message := map[string]any{"type": kind, "session_id": sessionID}
	if text != "" {
		message["message"] = truncate(text, 300)
	}
	if err := h.agent.sendLink(context.Background(), message); err != nil {
		h.agent.logger.Printf("session %s: could not send %s: %v", sessionID, kind, err)
	}
}

func (h *sessionHost) start(sessionID string, message map[string]any) {
	target, _ := message["target"].(string)
	name := target
	if _, after, found := strings.Cut(target, "."); found {
		name = after
	}
	h.agent.mu.Lock()
	declared := h.agent.sessions[name]
	h.agent.mu.Unlock()
	if declared == nil || declared.handler == nil {
		h.agent.logger.Printf("session %s: %s has no handler for '%s'", sessionID, h.agent.cfg.NodeID, name)
		go h.tell("session.error", sessionID, h.agent.cfg.NodeID+" has no handler for '"+name+"'")
		return
	}
	caller, _ := message["caller"].(string)
	metadata, _ := message["metadata"].(map[string]any)
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, exists := h.live[sessionID]; exists {
		return
	}
	session := newSession(h.agent, sessionID, target, caller, metadata, declared.def)
	ctx, cancel := context.WithCancel(withSessionID(context.Background(), sessionID))
	h.live[sessionID] = &liveCall{session: session, cancel: cancel}
	h.agent.logger.Printf("session %s started (%s)", sessionID, target)
	h.wg.Add(1)
	go h.run(ctx, session, declared.handler)
}

func (h *sessionHost) input(sessionID string, message map[string]any) {
	h.mu.Lock()
	call := h.live[sessionID]
	h.mu.Unlock()
	if call == nil {
		go h.tell("session.error", sessionID, "no handler is running for this session on "+
			h.agent.cfg.NodeID+" (the node may have restarted)")
		return
	}
	raw, _ := json.Marshal(message["turn"])
	var turn Turn
	json.Unmarshal(raw, &turn)
	if turn.Modality == "" {
		turn.Modality = "text"
	}
	call.session.pushTurn(turn)
}

func (h *sessionHost) ended(sessionID, reason string) {
	h.mu.Lock()
	call := h.live[sessionID]
	h.mu.Unlock()
	if call == nil {
		return
	}
	call.session.markEnded(reason)
	time.AfterFunc(endGrace, call.cancel)
}

// run invokes the handler once per turn until the call ends or it fails.
func (h *sessionHost) run(ctx context.Context, s *Session, handler SessionHandler) {
	defer h.wg.Done()
	defer func() {
		h.mu.Lock()
		if call := h.live[s.ID]; call != nil {
			call.cancel()
			delete(h.live, s.ID)
		}
		h.mu.Unlock()
		h.agent.logger.Printf("session %s is over (%s)", s.ID, s.endReason())
	}()
	for {
		pushedBefore, consumedBefore, _ := s.counts()
		err := callHandler(ctx, s, handler)
		if s.Ended() {
			return
		}
		if err != nil && !errors.Is(err, ErrSessionEnded) {
			h.agent.logger.Printf("session %s: the handler failed: %v", s.ID, err)
			s.markEnded("handler error")
			h.tell("session.error", s.ID, err.Error())
			return
		}
		// Returned normally: the call stays open, and the next user turn runs the
		// handler again. A turn already waiting runs it at once, provided the
		// invocation that just returned made progress (read a turn, or saw a new
		// one arrive), so a handler that never reads cannot spin.
		pushed, consumed, queued := s.counts()
		if queued > 0 && (consumed > consumedBefore || pushed > pushedBefore) {
			continue
		}
		if !s.waitForTurnAfter(ctx, pushed) {
			return
		}
	}
}

func callHandler(ctx context.Context, s *Session, handler SessionHandler) (err error) {
	defer func() {
		if recovered := recover(); recovered != nil {
			err = errors.New("panic: " + toString(recovered))
		}
	}()
	return handler(ctx, s)
}

func toString(value any) string {
	if err, ok := value.(error); ok {
		return err.Error()
	}
	if text, ok := value.(string); ok {
		return text
	}
	raw, _ := json.Marshal(value)
	return string(raw)
}

// shutdown ends every live call, then gives the handlers a moment.
func (h *sessionHost) shutdown(reason string) {
	h.mu.Lock()
	calls := make([]*liveCall, 0, len(h.live))
	for _, call := range h.live {
		calls = append(calls, call)
	}
	h.mu.Unlock()
	for _, call := range calls {
		if !call.session.Ended() {
			h.agent.sendLink(context.Background(), map[string]any{
				"type": "session.end", "session_id": call.session.ID, "reason": reason,
			})
			call.session.markEnded(reason)
		}
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		for _, call := range calls {
			call.cancel()
		}
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			h.agent.logger.Printf("%s: a session handler ignored its context and is left running", h.agent.cfg.NodeID)
		}
	}
}
