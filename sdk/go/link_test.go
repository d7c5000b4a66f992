package agent

// The agent link and the session host against a scripted link peer (the
// control plane's side of API.md section 7, written for these tests): reconnects
// and the handler lifecycle's edge cases, without a control plane.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"agentfield/agent/internal/websocket"
)

type linkPeer struct {
	t    *testing.T
	conn net.Conn
	rw   *bufio.ReadWriter
}

func (p *linkPeer) send(message map[string]any) {
	raw, _ := json.Marshal(message)
	frame := []byte{0x81}
	if n := len(raw); n <= 125 {
		frame = append(frame, byte(n))
	} else {
		frame = append(frame, 126, byte(n>>8), byte(n))
	}
	p.rw.Write(append(frame, raw...))
	p.rw.Flush()
}

// receive returns the next JSON message from the node (pings skipped).
func (p *linkPeer) receive() map[string]any {
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		head := make([]byte, 2)
		if _, err := io.ReadFull(p.rw, head); err != nil {
			p.t.Errorf("reading from the node: %v", err)
			return nil
		}
		n := int(head[1] & 0x7F)
		if n == 126 {
			ext := make([]byte, 2)
			io.ReadFull(p.rw, ext)
			n = int(binary.BigEndian.Uint16(ext))
		}
		key := make([]byte, 4)
		io.ReadFull(p.rw, key)
		payload := make([]byte, n)
		io.ReadFull(p.rw, payload)
		for i := range payload {
			payload[i] ^= key[i%4]
		}
		if head[0]&0x0F != websocket.OpText {
			continue
		}
		var message map[string]any
		json.Unmarshal(payload, &message)
		return message
	}
}

// linkServer accepts link connections and runs script for the n-th (from 1).
func linkServer(t *testing.T, script func(p *linkPeer, n int)) string {
	var mu sync.Mutex
	var wg sync.WaitGroup
	connections := 0
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/nodes/n1/link" || r.Header.Get("X-API-Key") != "node-key" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		wg.Add(1)
		defer wg.Done()
		mu.Lock()
		connections++
		n := connections
		mu.Unlock()
		conn, rw, _ := w.(http.Hijacker).Hijack()
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
		rw.WriteString("Sec-WebSocket-Accept: " + websocket.AcceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n")
		rw.Flush()
		script(&linkPeer{t: t, conn: conn, rw: rw}, n)
	}))
	t.Cleanup(func() { server.CloseClientConnections(); wg.Wait(); server.Close() })
	return server.URL
}

// linkedAgent runs only the link and the session host of a node n1 with handler.
func linkedAgent(t *testing.T, server string, handler SessionHandler) *Agent {
	return linkedAgentPinging(t, server, handler, linkPing)
}

// linkedAgentPinging is linkedAgent with the link's ping interval set to ping.
func linkedAgentPinging(t *testing.T, server string, handler SessionHandler, ping time.Duration) *Agent {
	a, err := New(Config{NodeID: "n1", AgentFieldURL: server, Token: "node-key", Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RegisterSession("desk", "openai", "websocket", WithSessionHandler(handler)); err != nil {
		t.Fatal(err)
	}
	a.host = newSessionHost(a)
	a.link = newAgentLink(a, a.host.onMessage)
	a.link.ping = ping
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.link.run(ctx) }()
	t.Cleanup(func() { a.host.shutdown("test over"); a.link.close(); cancel(); <-done })
	return a
}

func echo(ctx context.Context, s *Session) error {
	turn, err := s.Input(ctx)
	if err != nil {
		return err
	}
	switch turn.Text {
	case "panic":
		panic("the handler broke")
	case "fail":
		return errors.New("boom")
	}
	return s.Say(ctx, "echo: "+turn.Text)
}

func expect(t *testing.T, got map[string]any, kind string, field, want string) {
	t.Helper()
	if got["type"] != kind || got[field] != want {
		t.Fatalf("got %v, want %s with %s=%q", got, kind, field, want)
	}
}

func TestTheLinkReconnectsAndTheHandlerRunsOncePerTurn(t *testing.T) {
	finished := make(chan struct{})
	server := linkServer(t, func(p *linkPeer, n int) {
		p.send(map[string]any{"type": "link.ready", "node_id": "n1"})
		if n == 1 {
			return // the first link drops at once
		}
		defer close(finished)
		p.send(map[string]any{"type": "session.started", "session_id": "s1", "target": "n1.desk", "caller": "alice"})
		for _, text := range []string{"hi", "again"} {
			p.send(map[string]any{"type": "session.input", "session_id": "s1", "turn": map[string]any{"text": text}})
			expect(t, p.receive(), "session.say", "text", "echo: "+text)
		}
		p.send(map[string]any{"type": "session.ended", "session_id": "s1", "reason": "caller hung up"})
	})
	linkedAgent(t, server, echo)
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		t.Fatal("the script did not finish")
	}
}

func TestALinkWhosePeerFallsSilentIsDroppedAndReconnected(t *testing.T) {
	pinged := make(chan struct{})
	reconnected := make(chan struct{})
	server := linkServer(t, func(p *linkPeer, n int) {
		p.send(map[string]any{"type": "link.ready", "node_id": "n1"})
		if n == 1 {
			// A peer gone silent: it answers no ping and sends nothing more, but
			// keeps the TCP connection open (as a half-open link would).
			head := make([]byte, 2)
			if _, err := io.ReadFull(p.rw, head); err == nil && head[0]&0x0F == websocket.OpPing {
				close(pinged)
			}
			io.Copy(io.Discard, p.rw)
			return
		}
		if n == 2 {
			close(reconnected)
		}
		io.Copy(io.Discard, p.rw)
	})
	linkedAgentPinging(t, server, echo, 100*time.Millisecond)
	for _, step := range []chan struct{}{pinged, reconnected} {
		select {
		case <-step:
		case <-time.After(30 * time.Second):
			t.Fatal("the node never gave up the silent link")
		}
	}
}

func TestTurnsThatArriveWhileTheHandlerRunsAreAnsweredInOrder(t *testing.T) {
	release := make(chan struct{})
	finished := make(chan struct{})
	server := linkServer(t, func(p *linkPeer, n int) {
		defer close(finished)
		p.send(map[string]any{"type": "link.ready", "node_id": "n1"})
		p.send(map[string]any{"type": "session.started", "session_id": "s1", "target": "n1.desk"})
		for _, text := range []string{"one", "two", "three"} {
			p.send(map[string]any{"type": "session.input", "session_id": "s1", "turn": map[string]any{"text": text}})
		}
		close(release)
		for _, text := range []string{"one", "two", "three"} {
			expect(t, p.receive(), "session.say", "text", "echo: "+text)
		}
	})
	var once sync.Once
	linkedAgent(t, server, func(ctx context.Context, s *Session) error {
		once.Do(func() {
			// Hold the first invocation until every turn has arrived.
			eventuallyTrue(t, func() bool { _, _, queued := s.counts(); return queued == 3 })
			<-release
		})
		return echo(ctx, s)
	})
	<-finished
}

func TestAReturnedHandlerThatTookNoTurnWaitsForANewOne(t *testing.T) {
	// The no-spin rule (Python: test_a_returned_handler_that_took_no_turn_waits_for_a_new_one):
	// a handler that returns without reading runs again once per new turn, not in
	// a loop over the turn it left queued.
	var mu sync.Mutex
	var runs []int
	seen := func() []int { mu.Lock(); defer mu.Unlock(); return append([]int(nil), runs...) }
	finished := make(chan struct{})
	linked := make(chan *Agent, 1)
	server := linkServer(t, func(p *linkPeer, n int) {
		defer close(finished)
		p.send(map[string]any{"type": "link.ready", "node_id": "n1"})
		p.send(map[string]any{"type": "session.started", "session_id": "s1", "target": "n1.desk"})
		eventuallyTrue(t, func() bool { return len(seen()) >= 1 })
		for i, text := range []string{"one", "two"} {
			p.send(map[string]any{"type": "session.input", "session_id": "s1", "turn": map[string]any{"text": text}})
			eventuallyTrue(t, func() bool { return len(seen()) >= i+2 })
		}
		p.send(map[string]any{"type": "session.ended", "session_id": "s1"})
		a := <-linked
		eventuallyTrue(t, func() bool {
			a.host.mu.Lock()
			defer a.host.mu.Unlock()
			return len(a.host.live) == 0
		})
	})
	linked <- linkedAgent(t, server, func(ctx context.Context, s *Session) error {
		pushed, _, _ := s.counts() // never reads its turns
		mu.Lock()
		runs = append(runs, pushed)
		mu.Unlock()
		return nil
	})
	<-finished
	if got := seen(); len(got) != 3 || got[0] != 0 || got[1] != 1 || got[2] != 2 {
		t.Fatalf("the handler ran with %v turns pushed, want [0 1 2] (once per new turn)", got)
	}
}

func TestAFailingOrPanickingHandlerFailsTheCallAndUnknownSessionsAreRefused(t *testing.T) {
	finished := make(chan struct{})
	server := linkServer(t, func(p *linkPeer, n int) {
		defer close(finished)
		p.send(map[string]any{"type": "link.ready", "node_id": "n1"})
		p.send(map[string]any{"type": "session.started", "session_id": "s1", "target": "n1.desk"})
		p.send(map[string]any{"type": "session.input", "session_id": "s1", "turn": map[string]any{"text": "fail"}})
		expect(t, p.receive(), "session.error", "message", "boom")
		p.send(map[string]any{"type": "session.started", "session_id": "s2", "target": "n1.desk"})
		p.send(map[string]any{"type": "session.input", "session_id": "s2", "turn": map[string]any{"text": "panic"}})
		expect(t, p.receive(), "session.error", "message", "panic: the handler broke")
		p.send(map[string]any{"type": "session.started", "session_id": "s3", "target": "n1.nope"})
		expect(t, p.receive(), "session.error", "message", "n1 has no handler for 'nope'")
		p.send(map[string]any{"type": "session.input", "session_id": "s4", "turn": map[string]any{"text": "hello"}})
		got := p.receive()
		if got["session_id"] != "s4" || !strings.Contains(got["message"].(string), "no handler is running") {
			t.Errorf("unknown session: %v", got)
		}
	})
	linkedAgent(t, server, echo)
	<-finished
}

func TestStoppingTheNodeEndsLiveCalls(t *testing.T) {
	ended := make(chan map[string]any, 1)
	started := make(chan struct{})
	server := linkServer(t, func(p *linkPeer, n int) {
		p.send(map[string]any{"type": "link.ready", "node_id": "n1"})
		p.send(map[string]any{"type": "session.started", "session_id": "s1", "target": "n1.desk"})
		<-started
		ended <- p.receive()
	})
	a := linkedAgent(t, server, func(ctx context.Context, s *Session) error {
		close(started)
		_, err := s.Input(ctx)
		return err
	})
	<-started
	a.host.shutdown("the agent node is shutting down")
	expect(t, <-ended, "session.end", "reason", "the agent node is shutting down")
}

func eventuallyTrue(t *testing.T, cond func() bool) {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Error("condition never held")
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
