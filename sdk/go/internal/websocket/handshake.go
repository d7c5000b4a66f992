package websocket

// The opening handshake (RFC 6455 section 4): Dial, the upgrade request and
// the checks on the server's answer.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// HandshakeError is a refused opening handshake: the server did not answer 101.
type HandshakeError struct {
	StatusCode int
	Body       string
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("websocket handshake refused (HTTP %d)", e.StatusCode)
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
