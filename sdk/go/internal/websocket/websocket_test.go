package websocket

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// peer is the server side of one connection, written from RFC 6455 for these tests.
type peer struct {
	t    *testing.T
	conn net.Conn
	rw   *bufio.ReadWriter
}

// serve starts an HTTP server whose upgrade handshake answers with accept(key)
// and then hands the connection to script.
func serve(t *testing.T, accept func(key string) string, script func(p *peer)) string {
	t.Helper()
	done := make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		if r.Header.Get("Sec-WebSocket-Version") != "13" || !headerHasToken(r.Header, "Connection", "upgrade") {
			t.Errorf("not an upgrade request: %v", r.Header)
		}
		if r.Header.Get("X-Test") != "yes" {
			t.Errorf("the extra header is missing")
		}
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
		rw.WriteString("Sec-WebSocket-Accept: " + accept(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n")
		rw.Flush()
		script(&peer{t: t, conn: conn, rw: rw})
	}))
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the test server's script did not finish")
		}
		server.Close()
	})
	return "ws" + strings.TrimPrefix(server.URL, "http") + "/link?x=1"
}

func (p *peer) send(fin bool, opcode int, payload []byte, masked bool) {
	first := byte(opcode)
	if fin {
		first |= 0x80
	}
	buf := []byte{first}
	maskBit := byte(0)
	if masked {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n <= 125:
		buf = append(buf, maskBit|byte(n))
	case n <= 0xFFFF:
		buf = append(buf, maskBit|126, byte(n>>8), byte(n))
	default:
		buf = append(buf, maskBit|127)
		buf = binary.BigEndian.AppendUint64(buf, uint64(n))
	}
	data := append([]byte(nil), payload...)
	if masked {
		key := []byte{1, 2, 3, 4}
		buf = append(buf, key...)
		for i := range data {
			data[i] ^= key[i%4]
		}
	}
	p.rw.Write(append(buf, data...))
	p.rw.Flush()
}

// receive reads one client frame; every client frame must be masked.
func (p *peer) receive() (fin bool, opcode int, payload []byte) {
	head := make([]byte, 2)
	if _, err := io.ReadFull(p.rw, head); err != nil {
		p.t.Errorf("reading a client frame: %v", err)
		return
	}
	if head[1]&0x80 == 0 {
		p.t.Errorf("a client frame was not masked")
	}
	n := uint64(head[1] & 0x7F)
	if n == 126 {
		ext := make([]byte, 2)
		io.ReadFull(p.rw, ext)
		n = uint64(binary.BigEndian.Uint16(ext))
	} else if n == 127 {
		ext := make([]byte, 8)
		io.ReadFull(p.rw, ext)
		n = binary.BigEndian.Uint64(ext)
	}
	key := make([]byte, 4)
	io.ReadFull(p.rw, key)
	payload = make([]byte, n)
	io.ReadFull(p.rw, payload)
	for i := range payload {
		payload[i] ^= key[i%4]
	}
	return head[0]&0x80 != 0, int(head[0] & 0x0F), payload
}

func dial(t *testing.T, url string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := Dial(ctx, url, http.Header{"X-Test": {"yes"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

func TestAcceptKeyOfTheRFCExample(t *testing.T) {
	// RFC 6455 section 1.3.
	if got := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("AcceptKey = %q", got)
	}
}

func TestMaskedTextBothWaysIncludingA64BitLength(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70000)
	url := serve(t, AcceptKey, func(p *peer) {
		for _, want := range [][]byte{[]byte("hello"), big} {
			fin, op, got := p.receive()
			if !fin || op != OpText || !bytes.Equal(got, want) {
				p.t.Errorf("server got fin=%v op=%d len=%d", fin, op, len(got))
			}
			p.send(true, OpText, got, false)
		}
	})
	conn := dial(t, url)
	for _, message := range [][]byte{[]byte("hello"), big} {
		if err := conn.WriteMessage(OpText, message); err != nil {
			t.Fatal(err)
		}
		op, got, err := conn.ReadMessage()
		if err != nil || op != OpText || !bytes.Equal(got, message) {
			t.Fatalf("echo: op=%d len=%d err=%v", op, len(got), err)
		}
	}
}

func TestFragmentsAreReassembledAndAPingInBetweenIsAnswered(t *testing.T) {
	url := serve(t, AcceptKey, func(p *peer) {
		p.send(false, OpText, []byte("hel"), false)
		p.send(true, OpPing, []byte("p1"), false)
		p.send(true, OpContinuation, []byte("lo"), false)
		fin, op, payload := p.receive()
		if !fin || op != OpPong || string(payload) != "p1" {
			p.t.Errorf("expected pong p1, got op=%d %q", op, payload)
		}
		fin, op, payload = p.receive()
		if fin || op != OpText || string(payload) != "a" {
			p.t.Errorf("first fragment: fin=%v op=%d %q", fin, op, payload)
		}
		fin, op, payload = p.receive()
		if !fin || op != OpContinuation || string(payload) != "b" {
			p.t.Errorf("last fragment: fin=%v op=%d %q", fin, op, payload)
		}
	})
	conn := dial(t, url)
	op, got, err := conn.ReadMessage()
	if err != nil || op != OpText || string(got) != "hello" {
		t.Fatalf("got op=%d %q err=%v", op, got, err)
	}
	if err := conn.WriteFragments(OpText, []byte("a"), []byte("b")); err != nil {
		t.Fatal(err)
	}
}

func TestThePeersCloseIsAnsweredWithItsCode(t *testing.T) {
	url := serve(t, AcceptKey, func(p *peer) {
		p.send(true, OpClose, append(binary.BigEndian.AppendUint16(nil, 1000), "bye"...), false)
		_, op, payload := p.receive()
		if op != OpClose || len(payload) < 2 || binary.BigEndian.Uint16(payload) != 1000 {
			p.t.Errorf("expected close 1000, got op=%d %v", op, payload)
		}
	})
	conn := dial(t, url)
	_, _, err := conn.ReadMessage()
	var closed *CloseError
	if !errors.As(err, &closed) || closed.Code != 1000 || closed.Reason != "bye" {
		t.Fatalf("got %v", err)
	}
	if err := conn.WriteMessage(OpText, []byte("late")); err == nil {
		t.Fatal("writing after the close handshake succeeded")
	}
}

func TestOurCloseWaitsForThePeersAnswer(t *testing.T) {
	url := serve(t, AcceptKey, func(p *peer) {
		_, op, payload := p.receive()
		if op != OpClose || binary.BigEndian.Uint16(payload) != CloseGoingAway || string(payload[2:]) != "done" {
			p.t.Errorf("expected close 1001 done, got op=%d %q", op, payload)
		}
		p.send(true, OpClose, payload[:2], false)
	})
	conn := dial(t, url)
	conn.Close(CloseGoingAway, "done", 5*time.Second)
	_, _, err := conn.ReadMessage()
	var closed *CloseError
	if !errors.As(err, &closed) || closed.Code != CloseGoingAway {
		t.Fatalf("got %v", err)
	}
}

func TestProtocolViolationsFailTheConnectionWith1002(t *testing.T) {
	cases := map[string]func(p *peer){
		"masked server frame": func(p *peer) { p.send(true, OpText, []byte("x"), true) },
		"continuation first":  func(p *peer) { p.send(true, OpContinuation, []byte("x"), false) },
		"fragmented ping":     func(p *peer) { p.send(false, OpPing, []byte("x"), false) },
		"unknown opcode":      func(p *peer) { p.send(true, 0x3, []byte("x"), false) },
	}
	for name, violate := range cases {
		violate := violate
		t.Run(name, func(t *testing.T) {
			url := serve(t, AcceptKey, func(p *peer) {
				violate(p)
				_, op, payload := p.receive()
				if op != OpClose || binary.BigEndian.Uint16(payload) != CloseProtocolError {
					p.t.Errorf("expected close 1002, got op=%d %v", op, payload)
				}
			})
			conn := dial(t, url)
			if _, _, err := conn.ReadMessage(); !errors.Is(err, ErrProtocol) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestInvalidUTF8TextFailsWith1007(t *testing.T) {
	url := serve(t, AcceptKey, func(p *peer) {
		p.send(true, OpText, []byte{0xff, 0xfe}, false)
		_, op, payload := p.receive()
		if op != OpClose || binary.BigEndian.Uint16(payload) != CloseInvalidData {
			p.t.Errorf("expected close 1007, got op=%d %v", op, payload)
		}
	})
	conn := dial(t, url)
	if _, _, err := conn.ReadMessage(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("got %v", err)
	}
}

func TestAMessageOverTheLimitFailsWith1009(t *testing.T) {
	url := serve(t, AcceptKey, func(p *peer) {
		p.send(false, OpBinary, make([]byte, 60), false)
		p.send(true, OpContinuation, make([]byte, 60), false)
		_, op, payload := p.receive()
		if op != OpClose || binary.BigEndian.Uint16(payload) != CloseTooBig {
			p.t.Errorf("expected close 1009, got op=%d %v", op, payload)
		}
	})
	conn := dial(t, url)
	conn.MaxMessageBytes = 100
	if _, _, err := conn.ReadMessage(); err == nil {
		t.Fatal("an oversized message was accepted")
	}
}

func TestAWrongAcceptKeyIsRefused(t *testing.T) {
	url := serve(t, func(string) string { return AcceptKey("something else") }, func(p *peer) {})
	_, err := Dial(context.Background(), url, http.Header{"X-Test": {"yes"}})
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("got %v", err)
	}
}

func TestARefusedHandshakeCarriesTheStatus(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
	}))
	defer server.Close()
	_, err := Dial(context.Background(), "ws"+strings.TrimPrefix(server.URL, "http"), nil)
	var refused *HandshakeError
	if !errors.As(err, &refused) || refused.StatusCode != 401 || !strings.Contains(refused.Body, "unauthorized") {
		t.Fatalf("got %v", err)
	}
}

func TestASilentPeerFailsTheReadAfterReadTimeoutButPongsKeepItAlive(t *testing.T) {
	release := make(chan struct{})
	url := serve(t, AcceptKey, func(p *peer) {
		// Pongs only, each well inside the timeout, for longer than the timeout.
		for i := 0; i < 15; i++ {
			p.send(true, OpPong, nil, false)
			time.Sleep(100 * time.Millisecond)
		}
		p.send(true, OpText, []byte("still here"), false)
		<-release // then silence
	})
	conn := dial(t, url)
	conn.ReadTimeout = time.Second
	op, got, err := conn.ReadMessage()
	if err != nil || op != OpText || string(got) != "still here" {
		t.Fatalf("pongs did not keep the connection alive: op=%d %q err=%v", op, got, err)
	}
	_, _, err = conn.ReadMessage()
	close(release)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a silent peer gave %v, want a deadline error", err)
	}
}

func TestAWriteThePeerNeverReadsTimesOutAndClosesTheConnection(t *testing.T) {
	release := make(chan struct{})
	url := serve(t, AcceptKey, func(p *peer) { <-release }) // reads nothing
	conn := dial(t, url)
	conn.WriteTimeout = 200 * time.Millisecond
	big := make([]byte, 32<<20) // more than the socket buffers hold
	err := conn.WriteMessage(OpBinary, big)
	close(release)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the stuck write gave %v, want a deadline error", err)
	}
	if err := conn.Ping(nil); err == nil {
		t.Fatal("the connection is still writable after a cut frame")
	}
}

func TestAPingAfterOurCloseIsNotAnsweredAndThePeersCloseStillArrives(t *testing.T) {
	url := serve(t, AcceptKey, func(p *peer) {
		if _, op, _ := p.receive(); op != OpClose {
			p.t.Errorf("expected our close, got op=%d", op)
		}
		p.send(true, OpPing, []byte("late"), false)
		p.send(true, OpClose, binary.BigEndian.AppendUint16(nil, CloseNormal), false)
		p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := p.rw.ReadByte(); err == nil {
			p.t.Errorf("the client sent a frame after its close")
		}
	})
	conn := dial(t, url)
	conn.Close(CloseNormal, "", 5*time.Second)
	_, _, err := conn.ReadMessage()
	var closed *CloseError
	if !errors.As(err, &closed) || closed.Code != CloseNormal || closed.Reason != "" {
		t.Fatalf("got %v, want the peer's close 1000", err)
	}
}

func TestAPingInsideAMessageNearTheLimitIsAnswered(t *testing.T) {
	url := serve(t, AcceptKey, func(p *peer) {
		p.send(false, OpBinary, make([]byte, 95), false)
		p.send(true, OpPing, []byte("ten bytes!"), false)
		if _, op, payload := p.receive(); op != OpPong || string(payload) != "ten bytes!" {
			p.t.Errorf("expected the pong, got op=%d %q", op, payload)
		}
		p.send(true, OpContinuation, make([]byte, 5), false)
	})
	conn := dial(t, url)
	conn.MaxMessageBytes = 100
	op, got, err := conn.ReadMessage()
	if err != nil || op != OpBinary || len(got) != 100 {
		t.Fatalf("got op=%d len=%d err=%v", op, len(got), err)
	}
}

func TestCloseCodesAndReasonsThatMayNotBeSentFailTheConnection(t *testing.T) {
	cases := map[string]struct {
		payload []byte
		answer  int
	}{}
	for _, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535} {
		cases[fmt.Sprint(code)] = struct {
			payload []byte
			answer  int
		}{binary.BigEndian.AppendUint16(nil, uint16(code)), CloseProtocolError}
	}
	cases["reason not UTF-8"] = struct {
		payload []byte
		answer  int
	}{append(binary.BigEndian.AppendUint16(nil, CloseNormal), 0xff, 0xfe), CloseInvalidData}
	for name, c := range cases {
		c := c
		t.Run(name, func(t *testing.T) {
			url := serve(t, AcceptKey, func(p *peer) {
				p.send(true, OpClose, c.payload, false)
				_, op, payload := p.receive()
				if op != OpClose || len(payload) < 2 || int(binary.BigEndian.Uint16(payload)) != c.answer {
					p.t.Errorf("expected close %d, got op=%d %v", c.answer, op, payload)
				}
			})
			conn := dial(t, url)
			if _, _, err := conn.ReadMessage(); !errors.Is(err, ErrProtocol) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestCloseCodesAPeerMaySendAreEchoed(t *testing.T) {
	for _, code := range []int{1000, 1003, 1007, 1012, 1014, 3000, 4999} {
		code := code
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			url := serve(t, AcceptKey, func(p *peer) {
				p.send(true, OpClose, append(binary.BigEndian.AppendUint16(nil, uint16(code)), "é"...), false)
				_, op, payload := p.receive()
				if op != OpClose || len(payload) < 2 || int(binary.BigEndian.Uint16(payload)) != code {
					p.t.Errorf("expected close %d, got op=%d %v", code, op, payload)
				}
			})
			conn := dial(t, url)
			_, _, err := conn.ReadMessage()
			var closed *CloseError
			if !errors.As(err, &closed) || closed.Code != code || closed.Reason != "é" {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestASubprotocolTheClientDidNotOfferIsRefused(t *testing.T) {
	choosing := func(subprotocol string) func(string) string {
		return func(key string) string { return AcceptKey(key) + "\r\nSec-WebSocket-Protocol: " + subprotocol }
	}
	for name, offer := range map[string][]string{"none offered": nil, "another offered": {"chat, superchat"}} {
		url := serve(t, choosing("Chat"), func(p *peer) {})
		header := http.Header{"X-Test": {"yes"}}
		if offer != nil {
			header["Sec-Websocket-Protocol"] = offer
		}
		if _, err := Dial(context.Background(), url, header); !errors.Is(err, ErrProtocol) {
			t.Fatalf("%s: got %v", name, err)
		}
	}
	url := serve(t, choosing("superchat"), func(p *peer) {})
	conn, err := Dial(context.Background(), url, http.Header{"X-Test": {"yes"}, "Sec-Websocket-Protocol": {"chat, superchat"}})
	if err != nil {
		t.Fatalf("an offered subprotocol was refused: %v", err)
	}
	conn.CloseNow()
}
