// Package websocket is a small client side of RFC 6455: the opening handshake
// (Sec-WebSocket-Key / Sec-WebSocket-Accept), masked client frames, text and
// binary messages, fragmentation, ping/pong and the closing handshake. It is a
// client of one known server (the AgentField control plane), so it implements
// no extensions, and it refuses frames that use them and a subprotocol the
// caller did not offer (in a Sec-WebSocket-Protocol request header).
package websocket

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Opcodes (RFC 6455 section 5.2).
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// Close codes used here (RFC 6455 section 7.4.1).
const (
	CloseNormal        = 1000
	CloseGoingAway     = 1001
	CloseProtocolError = 1002
	CloseNoStatus      = 1005
	CloseInvalidData   = 1007
	CloseTooBig        = 1009
)

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// DefaultMaxMessageBytes bounds one reassembled message.
const DefaultMaxMessageBytes = 16 << 20

// HandshakeError is a refused opening handshake: the server did not answer 101.
type HandshakeError struct {
	StatusCode int
	Body       string
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("websocket handshake refused (HTTP %d)", e.StatusCode)
}

// CloseError is returned by ReadMessage once the peer has closed the connection.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("websocket closed (%d)", e.Code)
	}
	return fmt.Sprintf("websocket closed (%d: %s)", e.Code, e.Reason)
}

// ErrProtocol marks a frame that breaks RFC 6455; the connection is failed.
var ErrProtocol = errors.New("websocket protocol error")

// DefaultWriteTimeout bounds one frame's write, so a peer that stops reading
// cannot hold the write lock (and every other writer) forever.
const DefaultWriteTimeout = 10 * time.Second

// Conn is one client connection. ReadMessage must be called from one goroutine
// at a time; WriteMessage, Ping and Close may be called from any goroutine.
type Conn struct {
	conn      net.Conn
	reader    *bufio.Reader
	writeMu   sync.Mutex
	closeSent bool

	// deadlineMu orders the reader's per-frame deadline with Close's wait, so
	// a frame arriving after Close cannot push the wait back.
	deadlineMu sync.Mutex
	closeBy    time.Time

	MaxMessageBytes int
	// ReadTimeout, when positive, fails the connection if no frame (of any
	// kind, pongs included) begins within it: the deadline is set before each
	// frame header. With regular pings it notices a peer that went silent.
	ReadTimeout time.Duration
	// WriteTimeout bounds each frame's write; a write that times out closes
	// the connection (a frame may have been cut). Zero or less: no bound.
	WriteTimeout time.Duration
}

// AcceptKey is Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func AcceptKey(key string) string {
	sum := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func newKey() (string, error) {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// Dial opens a WebSocket to a ws:// or wss:// URL with extra request headers.
func Dial(ctx context.Context, rawURL string, header http.Header) (*Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	var secure bool
	switch u.Scheme {
	case "ws":
	case "wss":
		secure = true
	default:
		return nil, fmt.Errorf("websocket: unsupported scheme %q", u.Scheme)
	}
	host := u.Host
	if u.Port() == "" {
		if secure {
			host = net.JoinHostPort(u.Hostname(), "443")
		} else {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	var dialer net.Dialer
	netConn, err := dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	if secure {
		tlsConn := tls.Client(netConn, &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12})
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			netConn.Close()
			return nil, err
		}
		netConn = tlsConn
	}
	conn, err := handshake(ctx, netConn, u, header)
	if err != nil {
		netConn.Close()
		return nil, err
	}
	return conn, nil
}

func handshake(ctx context.Context, netConn net.Conn, u *url.URL, header http.Header) (*Conn, error) {
	if deadline, ok := ctx.Deadline(); ok {
		netConn.SetDeadline(deadline)
		defer netConn.SetDeadline(time.Time{})
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	requestURL := &url.URL{Scheme: "http", Host: u.Host, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	if u.Scheme == "wss" {
		requestURL.Scheme = "https"
	}
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        requestURL,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{},
		Host:       u.Host,
	}
	for name, values := range header {
		for _, value := range values {
			req.Header.Add(name, value)
		}
	}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	if err := req.Write(netConn); err != nil {
		return nil, err
	}
	reader := bufio.NewReaderSize(netConn, 4096)
	resp, err := http.ReadResponse(reader, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		resp.Body.Close()
		return nil, &HandshakeError{StatusCode: resp.StatusCode, Body: string(body)}
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		!headerHasToken(resp.Header, "Connection", "upgrade") {
		return nil, fmt.Errorf("%w: the server did not upgrade to websocket", ErrProtocol)
	}
	if resp.Header.Get("Sec-WebSocket-Accept") != AcceptKey(key) {
		return nil, fmt.Errorf("%w: wrong Sec-WebSocket-Accept", ErrProtocol)
	}
	if chosen := resp.Header.Get("Sec-WebSocket-Protocol"); chosen != "" && !offered(req.Header, chosen) {
		return nil, fmt.Errorf("%w: the server chose a subprotocol this client did not offer", ErrProtocol)
	}
	if resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		return nil, fmt.Errorf("%w: the server chose an extension this client did not offer", ErrProtocol)
	}
	return &Conn{conn: netConn, reader: reader, MaxMessageBytes: DefaultMaxMessageBytes, WriteTimeout: DefaultWriteTimeout}, nil
}

// offered is whether the request offered subprotocol (names are case-sensitive).
func offered(header http.Header, subprotocol string) bool {
	for _, value := range header.Values("Sec-WebSocket-Protocol") {
		for _, part := range strings.Split(value, ",") {
			if strings.TrimSpace(part) == subprotocol {
				return true
			}
		}
	}
	return false
}

func headerHasToken(header http.Header, name, token string) bool {
	for _, value := range header.Values(name) {
		for _, part := range strings.Split(value, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// NetConn is the underlying connection (for deadlines).
func (c *Conn) NetConn() net.Conn { return c.conn }

// WriteMessage sends one unfragmented message (OpText or OpBinary).
func (c *Conn) WriteMessage(opcode int, data []byte) error {
	if opcode != OpText && opcode != OpBinary {
		return fmt.Errorf("websocket: WriteMessage takes a text or binary opcode, not %d", opcode)
	}
	return c.writeFrame(true, opcode, data)
}

// WriteFragments sends one message in several frames (the first with opcode,
// the others as continuations). It exists for tests of peers' reassembly.
func (c *Conn) WriteFragments(opcode int, parts ...[]byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	for i, part := range parts {
		op := OpContinuation
		if i == 0 {
			op = opcode
		}
		if err := c.writeFrameLocked(i == len(parts)-1, op, part); err != nil {
			return err
		}
	}
	return nil
}

// Ping sends a ping frame (payload at most 125 bytes).
func (c *Conn) Ping(data []byte) error {
	if len(data) > 125 {
		return fmt.Errorf("websocket: a ping payload is at most 125 bytes")
	}
	return c.writeFrame(true, OpPing, data)
}

func (c *Conn) writeFrame(fin bool, opcode int, data []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.writeFrameLocked(fin, opcode, data)
}

func (c *Conn) writeFrameLocked(fin bool, opcode int, data []byte) error {
	if c.closeSent {
		return &CloseError{Code: CloseNormal, Reason: "close already sent"}
	}
	frame := appendFrame(nil, fin, opcode, data)
	if c.WriteTimeout > 0 {
		c.conn.SetWriteDeadline(time.Now().Add(c.WriteTimeout))
	}
	_, err := c.conn.Write(frame)
	if opcode == OpClose {
		c.closeSent = true
	}
	if err != nil {
		// The frame may be cut off: nothing more can be written, and the reader
		// must see the connection end (to reconnect) rather than wait on it.
		c.closeSent = true
		c.conn.Close()
	}
	return err
}

// appendFrame encodes one masked client frame.
func appendFrame(buf []byte, fin bool, opcode int, data []byte) []byte {
	first := byte(opcode)
	if fin {
		first |= 0x80
	}
	buf = append(buf, first)
	length := len(data)
	switch {
	case length <= 125:
		buf = append(buf, 0x80|byte(length))
	case length <= 0xFFFF:
		buf = append(buf, 0x80|126, byte(length>>8), byte(length))
	default:
		buf = append(buf, 0x80|127)
		buf = binary.BigEndian.AppendUint64(buf, uint64(length))
	}
	var mask [4]byte
	if _, err := rand.Read(mask[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	buf = append(buf, mask[:]...)
	start := len(buf)
	buf = append(buf, data...)
	for i := range buf[start:] {
		buf[start+i] ^= mask[i%4]
	}
	return buf
}

type frame struct {
	fin     bool
	opcode  int
	payload []byte
}

// armReadDeadline gives the next frame ReadTimeout to begin, but never more
// than what is left of Close's wait.
func (c *Conn) armReadDeadline() {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	var deadline time.Time
	if c.ReadTimeout > 0 {
		deadline = time.Now().Add(c.ReadTimeout)
	}
	if !c.closeBy.IsZero() && (deadline.IsZero() || c.closeBy.Before(deadline)) {
		deadline = c.closeBy
	}
	if !deadline.IsZero() {
		c.conn.SetReadDeadline(deadline)
	}
}

func (c *Conn) readFrame(limit int) (frame, error) {
	c.armReadDeadline()
	var head [2]byte
	if _, err := io.ReadFull(c.reader, head[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: head[0]&0x80 != 0, opcode: int(head[0] & 0x0F)}
	if head[0]&0x70 != 0 {
		return frame{}, fmt.Errorf("%w: reserved bits set without an extension", ErrProtocol)
	}
	if head[1]&0x80 != 0 {
		return frame{}, fmt.Errorf("%w: a server frame must not be masked", ErrProtocol)
	}
	length := uint64(head[1] & 0x7F)
	switch length {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(c.reader, ext[:]); err != nil {
			return frame{}, err
		}
		length = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(c.reader, ext[:]); err != nil {
			return frame{}, err
		}
		length = binary.BigEndian.Uint64(ext[:])
		if length>>63 != 0 {
			return frame{}, fmt.Errorf("%w: frame length has its top bit set", ErrProtocol)
		}
	}
	control := f.opcode >= OpClose
	if control && (length > 125 || !f.fin) {
		return frame{}, fmt.Errorf("%w: a control frame must be final and at most 125 bytes", ErrProtocol)
	}
	if !control && length > uint64(limit) {
		return frame{}, errTooBig
	}
	f.payload = make([]byte, length)
	if _, err := io.ReadFull(c.reader, f.payload); err != nil {
		return frame{}, err
	}
	return f, nil
}

var errTooBig = errors.New("websocket message too big")

// ReadMessage returns the next text or binary message, reassembling fragments
// and answering pings on the way. After the peer's close frame it answers the
// close and returns *CloseError.
func (c *Conn) ReadMessage() (int, []byte, error) {
	limit := c.MaxMessageBytes
	if limit <= 0 {
		limit = DefaultMaxMessageBytes
	}
	var message []byte
	opcode := -1
	for {
		f, err := c.readFrame(limit - len(message))
		if err != nil {
			return 0, nil, c.fail(err)
		}
		switch f.opcode {
		case OpPing:
			if err := c.pong(f.payload); err != nil {
				return 0, nil, err
			}
			continue
		case OpPong:
			continue
		case OpClose:
			return 0, nil, c.onClose(f.payload)
		case OpText, OpBinary:
			if opcode != -1 {
				return 0, nil, c.fail(fmt.Errorf("%w: a new message began inside a fragmented one", ErrProtocol))
			}
			opcode = f.opcode
		case OpContinuation:
			if opcode == -1 {
				return 0, nil, c.fail(fmt.Errorf("%w: a continuation frame without a message", ErrProtocol))
			}
		default:
			return 0, nil, c.fail(fmt.Errorf("%w: unknown opcode %d", ErrProtocol, f.opcode))
		}
		message = append(message, f.payload...)
		if f.fin {
			if opcode == OpText && !utf8.Valid(message) {
				return 0, nil, c.failWith(CloseInvalidData, fmt.Errorf("%w: a text message is not UTF-8", ErrProtocol))
			}
			return opcode, message, nil
		}
	}
}

// pong answers a ping, unless our close went out already: then no more frames
// may be sent (RFC 6455 section 5.5.1), and the reader keeps waiting for the
// peer's close.
func (c *Conn) pong(payload []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.closeSent {
		return nil
	}
	return c.writeFrameLocked(true, OpPong, payload)
}

// validCloseCode is a code a peer may send in a close frame (RFC 6455 section
// 7.4 and the IANA registry): not 1004-1006 or 1015, which are reserved or
// only for local use, and nothing below 1000 or between 1016 and 2999.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	}
	return code >= 3000 && code <= 4999
}

// onClose answers the peer's close frame with the same code and closes the socket.
func (c *Conn) onClose(payload []byte) error {
	closeErr := &CloseError{Code: CloseNoStatus}
	if len(payload) == 1 {
		c.failWith(CloseProtocolError, ErrProtocol)
		return fmt.Errorf("%w: a close payload of one byte", ErrProtocol)
	}
	if len(payload) >= 2 {
		closeErr.Code = int(binary.BigEndian.Uint16(payload[:2]))
		closeErr.Reason = string(payload[2:])
		if !validCloseCode(closeErr.Code) {
			return c.failWith(CloseProtocolError, fmt.Errorf("%w: close code %d may not be sent", ErrProtocol, closeErr.Code))
		}
		if !utf8.ValidString(closeErr.Reason) {
			return c.failWith(CloseInvalidData, fmt.Errorf("%w: a close reason is not UTF-8", ErrProtocol))
		}
	}
	c.writeMu.Lock()
	if !c.closeSent {
		var reply []byte
		if len(payload) >= 2 {
			reply = payload[:2]
		}
		c.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		c.conn.Write(appendFrame(nil, true, OpClose, reply))
		c.closeSent = true
	}
	c.writeMu.Unlock()
	c.conn.Close()
	return closeErr
}

func (c *Conn) fail(err error) error {
	switch {
	case errors.Is(err, errTooBig):
		return c.failWith(CloseTooBig, err)
	case errors.Is(err, ErrProtocol):
		return c.failWith(CloseProtocolError, err)
	}
	c.conn.Close()
	return err
}

func (c *Conn) failWith(code int, err error) error {
	c.sendClose(code, "")
	c.conn.Close()
	return err
}

func (c *Conn) sendClose(code int, reason string) {
	payload := binary.BigEndian.AppendUint16(nil, uint16(code))
	payload = append(payload, reason...)
	if len(payload) > 125 {
		payload = payload[:125]
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if !c.closeSent {
		c.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		c.conn.Write(appendFrame(nil, true, OpClose, payload))
		c.closeSent = true
	}
}

// Close starts the closing handshake: it sends a close frame and gives the
// peer wait to answer. The reader (ReadMessage) then sees the peer's close, or
// a deadline error, and the socket is closed; CloseNow ends it at once.
func (c *Conn) Close(code int, reason string, wait time.Duration) {
	c.sendClose(code, reason)
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	c.closeBy = time.Now().Add(wait)
	c.conn.SetReadDeadline(c.closeBy)
}

// CloseNow closes the socket without a closing handshake.
func (c *Conn) CloseNow() error { return c.conn.Close() }
