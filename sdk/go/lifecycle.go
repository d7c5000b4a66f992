package agent

// The node lifecycle: Run listens, registers, waits for approval, heartbeats,
// opens the agent link, serves, and shuts down cleanly.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Run listens, registers, waits for tag approval, heartbeats, opens the agent
// link when the node has session handlers, and serves until ctx is cancelled
// or the process gets SIGINT/SIGTERM; then it ends live calls, says offline and
// stops. It returns nil after such a stop, or the error that kept the node
// from starting (a refused registration carries the control plane's message).
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.running {
		a.mu.Unlock()
		return fmt.Errorf("node %s is already running", a.cfg.NodeID)
	}
	if a.declErr != nil {
		a.mu.Unlock()
		return a.declErr
	}
	a.running = true
	a.mu.Unlock()
	if a.apiKey == "" {
		return fmt.Errorf("no API key for node %s: set Config.Token or AGENTFIELD_API_KEY", a.cfg.NodeID)
	}
	ctx, stopSignals := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stopSignals()
	a.runCtx = ctx

	address := a.cfg.ListenAddress
	if address == "" {
		address = "127.0.0.1:0"
	}
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return err
	}
	server := &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	defer func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		server.Shutdown(shutdown)
	}()
	a.mu.Lock()
	a.baseURL = strings.TrimRight(a.cfg.PublicURL, "/")
	if a.baseURL == "" {
		a.baseURL = "http://" + urlHost(listener.Addr().(*net.TCPAddr))
	}
	a.mu.Unlock()
	a.logger.Printf("%s listening on %s", a.cfg.NodeID, a.BaseURL())

	if err := a.register(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	heartbeats := make(chan struct{})
	go func() { defer close(heartbeats); a.heartbeats(ctx) }()
	defer func() { <-heartbeats }()
	if err := a.waitForApproval(ctx); err != nil {
		return nil // cancelled while waiting
	}
	var linkDone chan struct{}
	if a.hasHandlers() {
		a.host = newSessionHost(a)
		a.link = newAgentLink(a, a.host.onMessage)
		linkDone = make(chan struct{})
		go func() { defer close(linkDone); a.link.run(ctx) }()
		select {
		case <-a.link.connected():
		case <-ctx.Done():
		}
	}
	if ctx.Err() == nil {
		close(a.ready)
		a.logger.Printf("%s is ready", a.cfg.NodeID)
	}
	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	a.logger.Printf("stopping %s", a.cfg.NodeID)
	if a.host != nil {
		a.host.shutdown("the agent node is shutting down")
	}
	if a.link != nil {
		a.link.close()
		<-linkDone
	}
	// No new calls (Shutdown waits for the ones being answered), then the
	// work answered 202 and its status callbacks.
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	server.Shutdown(shutdown)
	cancelShutdown()
	a.inflight.Wait()
	offline, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	a.heartbeat(offline, "offline")
	return nil
}

func urlHost(addr *net.TCPAddr) string {
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, fmt.Sprint(addr.Port))
}
