package websocket

// Framing (RFC 6455 section 5): opcodes, close codes, encoding a masked client
// frame and decoding a server frame's header and payload.

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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

// ErrProtocol marks a frame that breaks RFC 6455; the connection is failed.
var ErrProtocol = errors.New("websocket protocol error")

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
