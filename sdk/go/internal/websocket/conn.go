// Package websocket is a small client side of RFC 6455: the opening handshake
// (Sec-WebSocket-Key / Sec-WebSocket-Accept), masked client frames, text and
// binary messages, fragmentation, ping/pong and the closing handshake. It is a
// client of one known server (the AgentField control plane), so it implements
// no extensions, and it refuses frames that use them and a subprotocol the
// caller did not offer (in a Sec-WebSocket-Protocol request header).
package websocket

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultMaxMessageBytes bounds one reassembled message.
const DefaultMaxMessageBytes = 16 << 20

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
