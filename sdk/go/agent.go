// Package agent is the Go SDK of AgentField Sessions: an agent node that
// declares reasoners, skills and sessions, registers with the control plane,
// serves the calls the control plane dispatches to it, and runs session
// handlers over the agent link. Its API follows upstream AgentField's Go SDK
// (github.com/Agent-Field/agentfield/sdk/go/agent), so code written for it ports
// by changing the import. Standard library only.
package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultServer is the control plane used when neither Config.AgentFieldURL nor
// AGENTFIELD_SERVER is set.
const DefaultServer = "http://127.0.0.1:8000"

const pendingApproval = "pending_approval"

// Config drives an Agent. NodeID is required; everything else has a default.
type Config struct {
	// NodeID identifies the node: targets are "<NodeID>.<name>".
	NodeID string
	// Version of the agent's code, sent at registration and in heartbeats.
	Version string
	// TeamID is sent at registration (default "default").
	TeamID string
	// AgentFieldURL is the control plane (default $AGENTFIELD_SERVER, else
	// http://127.0.0.1:8000).
	AgentFieldURL string
	// Token is the node's API key (default $AGENTFIELD_API_KEY). APIKey is
	// upstream's other name for it; either may be set.
	Token  string
	APIKey string
	// ListenAddress is where the node serves the control plane's calls; empty
	// takes a free port on 127.0.0.1.
	ListenAddress string
	// PublicURL is the base URL registered for those calls (default
	// http://<listen host>:<port>).
	PublicURL string
	// Tags are the node's own proposed tags.
	Tags []string
	// Description is shown on the control plane's pages.
	Description string
	// HeartbeatInterval between heartbeats (default 10 s).
	HeartbeatInterval time.Duration
	// ApprovalPollInterval is the first wait between polls while tags are
	// pending approval (default 1 s, growing up to five times that).
	ApprovalPollInterval time.Duration
	// CallTimeout bounds one Call (default 75 s, a little over the control
	// plane's default synchronous wait).
	CallTimeout time.Duration
	// AsyncAfter is how long a reasoner or skill may run before the node
	// answers the control plane 202 and reports the outcome through the status
	// callback instead (default 10 s; negative: always 202).
	AsyncAfter time.Duration
	// Logger receives the node's logs (default: standard error, "[agent] ").
	Logger *log.Logger
}

// HandlerFunc processes one reasoner or skill call.
type HandlerFunc func(ctx context.Context, input map[string]any) (any, error)

// Reasoner is one reasoner or skill of the node.
type Reasoner struct {
	Name         string
	Handler      HandlerFunc
	InputSchema  json.RawMessage
	OutputSchema json.RawMessage
	Tags         []string
	Description  string
	kind         string
}

// ReasonerOption configures RegisterReasoner and RegisterSkill.
type ReasonerOption func(*Reasoner)

// WithReasonerTags sets the target's proposed tags.
func WithReasonerTags(tags ...string) ReasonerOption {
	return func(r *Reasoner) { r.Tags = tags }
}

// WithSkillTags is WithReasonerTags for skills.
func WithSkillTags(tags ...string) ReasonerOption { return WithReasonerTags(tags...) }

// WithDescription sets the target's description.
func WithDescription(description string) ReasonerOption {
	return func(r *Reasoner) { r.Description = description }
}

// WithInputSchema sets the JSON schema of the input (default {"type":"object"}).
func WithInputSchema(raw json.RawMessage) ReasonerOption {
	return func(r *Reasoner) {
		if len(raw) > 0 {
			r.InputSchema = raw
		}
	}
}

// WithOutputSchema sets the JSON schema of the result.
func WithOutputSchema(raw json.RawMessage) ReasonerOption {
	return func(r *Reasoner) {
		if len(raw) > 0 {
			r.OutputSchema = raw
		}
	}
}

type declaredSession struct {
	def     SessionDefinition
	handler SessionHandler
}

// Agent is one agent node.
type Agent struct {
	cfg        Config
	server     string
	apiKey     string
	instanceID string
	logger     *log.Logger
	http       *http.Client // registration, polls, heartbeats, status callbacks
	callHTTP   *http.Client // Call, bounded by CallTimeout

	mu        sync.Mutex
	targets   map[string]*Reasoner // "reasoner:name" / "skill:name"
	order     []*Reasoner
	sessions  map[string]*declaredSession
	sessOrder []string
	declErr   error

	token    string // dispatch token of the latest registration
	status   string
	pending  []string
	baseURL  string
	running  bool
	ready    chan struct{}
	link     *agentLink
	host     *sessionHost
	runCtx   context.Context
	inflight sync.WaitGroup
}

// New checks cfg and builds an Agent.
func New(cfg Config) (*Agent, error) {
	nodeID, err := checkTargetName(cfg.NodeID, "node")
	if err != nil {
		return nil, err
	}
	cfg.NodeID = nodeID
	if cfg.Version == "" {
		cfg.Version = "1.0.0"
	}
	if cfg.TeamID == "" {
		cfg.TeamID = "default"
	}
	if cfg.AgentFieldURL == "" {
		cfg.AgentFieldURL = os.Getenv("AGENTFIELD_SERVER")
	}
	if cfg.AgentFieldURL == "" {
		cfg.AgentFieldURL = DefaultServer
	}
	key := cfg.APIKey
	if key == "" {
		key = cfg.Token
	}
	if key == "" {
		key = os.Getenv("AGENTFIELD_API_KEY")
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 10 * time.Second
	}
	if cfg.ApprovalPollInterval <= 0 {
		cfg.ApprovalPollInterval = time.Second
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 75 * time.Second
	}
	if cfg.AsyncAfter == 0 {
		cfg.AsyncAfter = 10 * time.Second
	}
	logger := cfg.Logger
	if logger == nil {
		logger = log.New(os.Stderr, "[agent] ", log.LstdFlags)
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	return &Agent{
		cfg:        cfg,
		server:     strings.TrimRight(cfg.AgentFieldURL, "/"),
		apiKey:     key,
		instanceID: hex.EncodeToString(raw),
		logger:     logger,
		http:       &http.Client{Timeout: 10 * time.Second},
		callHTTP:   &http.Client{Timeout: cfg.CallTimeout},
		targets:    map[string]*Reasoner{},
		sessions:   map[string]*declaredSession{},
		ready:      make(chan struct{}),
	}, nil
}

// NodeID is the node's id.
func (a *Agent) NodeID() string { return a.cfg.NodeID }

// BaseURL is the URL the node registered for calls ("" before Run listens).
func (a *Agent) BaseURL() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.baseURL
}

// Ready is closed once the node is registered, approved and (with session
// handlers) linked.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// RegisterReasoner declares a reasoner. A bad or duplicate name makes Run fail.
func (a *Agent) RegisterReasoner(name string, handler HandlerFunc, opts ...ReasonerOption) {
	a.declare("reasoner", name, handler, opts)
}

// RegisterSkill declares a skill (same shape as RegisterReasoner).
func (a *Agent) RegisterSkill(name string, handler HandlerFunc, opts ...ReasonerOption) {
	a.declare("skill", name, handler, opts)
}

func (a *Agent) declare(kind, name string, handler HandlerFunc, opts []ReasonerOption) {
	a.mu.Lock()
	defer a.mu.Unlock()
	trimmed, err := checkTargetName(name, kind)
	if err == nil && handler == nil {
		err = fmt.Errorf("%s '%s' has no handler", kind, trimmed)
	}
	if err == nil && (a.targets["reasoner:"+trimmed] != nil || a.targets["skill:"+trimmed] != nil) {
		err = fmt.Errorf("%s already declares a target '%s'", a.cfg.NodeID, trimmed)
	}
	if err != nil {
		a.logger.Printf("%s: %v", a.cfg.NodeID, err)
		if a.declErr == nil {
			a.declErr = err
		}
		return
	}
	r := &Reasoner{Name: trimmed, Handler: handler, kind: kind}
	for _, opt := range opts {
		opt(r)
	}
	a.targets[kind+":"+trimmed] = r
	a.order = append(a.order, r)
}

// RegisterSession declares a session. Provider and transport are explicit and
// checked now; the error is the control plane's exact validation message
// (*SessionTransportError for an unsupported pair).
func (a *Agent) RegisterSession(name, provider, transport string, opts ...SessionOption) error {
	def, handler, err := buildSessionDefinition(name, provider, transport, opts)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, exists := a.sessions[def.Name]; exists {
		return fmt.Errorf("%s already declares a session '%s'", a.cfg.NodeID, def.Name)
	}
	a.sessions[def.Name] = &declaredSession{def: def, handler: handler}
	a.sessOrder = append(a.sessOrder, def.Name)
	return nil
}

// SessionDefinitions lists the declared sessions, in declaration order.
func (a *Agent) SessionDefinitions() []SessionDefinition {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]SessionDefinition, 0, len(a.sessOrder))
	for _, name := range a.sessOrder {
		out = append(out, a.sessions[name].def)
	}
	return out
}

func (a *Agent) hasHandlers() bool {
	for _, s := range a.sessions {
		if s.handler != nil {
			return true
		}
	}
	return false
}

func (a *Agent) findTarget(kind, name string) *Reasoner {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.targets[kind+":"+name]
}

func (a *Agent) dispatchToken() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.token
}

// RegistrationPayload is the body of POST /api/v1/nodes/register.
func (a *Agent) RegistrationPayload() map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	targets := map[string][]map[string]any{"reasoner": {}, "skill": {}}
	for _, r := range a.order {
		input := r.InputSchema
		if len(input) == 0 {
			input = json.RawMessage(`{"type":"object"}`)
		}
		output := r.OutputSchema
		if len(output) == 0 {
			output = json.RawMessage(`{}`)
		}
		tags := cleanTags(r.Tags)
		targets[r.kind] = append(targets[r.kind], map[string]any{
			"id": r.Name, "description": r.Description, "tags": tags, "proposed_tags": tags,
			"input_schema": input, "output_schema": output,
		})
	}
	sessions := make([]SessionDefinition, 0, len(a.sessOrder))
	for _, name := range a.sessOrder {
		sessions = append(sessions, a.sessions[name].def)
	}
	protocols := []string{"http"}
	if a.hasHandlers() {
		protocols = append(protocols, "websocket")
	}
	tags := cleanTags(a.cfg.Tags)
	return map[string]any{
		"id":            a.cfg.NodeID,
		"team_id":       a.cfg.TeamID,
		"base_url":      a.baseURL,
		"version":       a.cfg.Version,
		"instance_id":   a.instanceID,
		"proposed_tags": tags,
		"reasoners":     targets["reasoner"],
		"skills":        targets["skill"],
		"sessions":      sessions,
		"communication_config": map[string]any{
			"protocols":          protocols,
			"heartbeat_interval": a.cfg.HeartbeatInterval.String(),
		},
		"metadata": map[string]any{"custom": map[string]any{
			"sessions":    sessions,
			"tags":        tags,
			"description": a.cfg.Description,
			"sdk":         map[string]any{"language": "go", "name": "agentfield-go"},
		}},
	}
}

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

// register posts the registration, retrying while the control plane is
// unreachable or failing (5xx); a 4xx is final.
func (a *Agent) register(ctx context.Context) error {
	delay, warned := 500*time.Millisecond, false
	for {
		var answer struct {
			DispatchToken string   `json:"dispatch_token"`
			Status        string   `json:"status"`
			PendingTags   []string `json:"pending_tags"`
		}
		status, body, err := a.do(ctx, http.MethodPost, "/api/v1/nodes/register", a.RegistrationPayload(), nil, &answer)
		if err == nil && status >= 400 && status < 500 {
			return &RegistrationError{StatusCode: status, Message: errorMessage(body), Body: body}
		}
		if err == nil && status < 300 && answer.DispatchToken != "" {
			a.mu.Lock()
			a.token, a.status, a.pending = answer.DispatchToken, answer.Status, answer.PendingTags
			a.mu.Unlock()
			a.logger.Printf("%s registered with %s (status %s)", a.cfg.NodeID, a.server, answer.Status)
			return nil
		}
		if !warned {
			reason := fmt.Sprintf("HTTP %d", status)
			if err != nil {
				reason = "unreachable"
			}
			a.logger.Printf("%s: registering with %s failed (%s); retrying", a.cfg.NodeID, a.server, reason)
			warned = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay *= 2; delay > 5*time.Second {
			delay = 5 * time.Second
		}
	}
}

func (a *Agent) waitForApproval(ctx context.Context) error {
	delay := a.cfg.ApprovalPollInterval
	var shown []string
	first := true
	for {
		a.mu.Lock()
		status, pending := a.status, a.pending
		a.mu.Unlock()
		if status != pendingApproval {
			if !first {
				a.logger.Printf("%s: tags approved", a.cfg.NodeID)
			}
			a.logRejected(ctx)
			return nil
		}
		if first || strings.Join(shown, ",") != strings.Join(pending, ",") {
			shown, first = pending, false
			a.logger.Printf("%s is waiting for tag approval: %s (approve at %s/access/approvals/)",
				a.cfg.NodeID, strings.Join(pending, ", "), a.server)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay = delay * 5 / 4; delay > 5*a.cfg.ApprovalPollInterval {
			delay = 5 * a.cfg.ApprovalPollInterval
		}
		var node struct {
			Status          string   `json:"status"`
			LifecycleStatus string   `json:"lifecycle_status"`
			PendingTags     []string `json:"pending_tags"`
		}
		code, _, err := a.do(ctx, http.MethodGet, "/api/v1/nodes/"+a.cfg.NodeID, nil, nil, &node)
		if err != nil || code != http.StatusOK {
			continue
		}
		status = node.Status
		if status == "" || node.LifecycleStatus == pendingApproval {
			status = node.LifecycleStatus
		}
		a.mu.Lock()
		a.status, a.pending = status, node.PendingTags
		a.mu.Unlock()
	}
}

// logRejected names the targets an admin rejected tags of: they cannot be called.
func (a *Agent) logRejected(ctx context.Context) {
	_, node, err := a.do(ctx, http.MethodGet, "/api/v1/nodes/"+a.cfg.NodeID, nil, nil, nil)
	if err != nil {
		return
	}
	for _, kind := range []string{"reasoners", "skills", "sessions"} {
		targets, _ := node[kind].([]any)
		for _, entry := range targets {
			target, _ := entry.(map[string]any)
			rejected, _ := target["rejected_tags"].([]any)
			if len(rejected) == 0 {
				continue
			}
			name := target["id"]
			if name == nil {
				name = target["name"]
			}
			a.logger.Printf("%s: %s %v cannot be called: tags rejected: %v",
				a.cfg.NodeID, strings.TrimSuffix(kind, "s"), name, rejected)
		}
	}
}

func (a *Agent) heartbeat(ctx context.Context, status string) (int, error) {
	body := map[string]any{"status": status, "version": a.cfg.Version, "instance_id": a.instanceID}
	code, _, err := a.do(ctx, http.MethodPost, "/api/v1/nodes/"+a.cfg.NodeID+"/heartbeat", body, nil, nil)
	return code, err
}

func (a *Agent) heartbeats(ctx context.Context) {
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(a.cfg.HeartbeatInterval):
		}
		code, err := a.heartbeat(ctx, "ready")
		switch {
		case ctx.Err() != nil:
			return
		case err != nil || code >= 500:
			if !failing {
				a.logger.Printf("%s: heartbeat failed", a.cfg.NodeID)
			}
			failing = true
		case code == http.StatusNotFound:
			a.logger.Printf("%s: unknown to the control plane; registering again", a.cfg.NodeID)
			if err := a.register(ctx); err != nil && ctx.Err() == nil {
				a.logger.Printf("%s: registering again failed: %v", a.cfg.NodeID, err)
			}
			failing = false
		default:
			if failing {
				a.logger.Printf("%s: heartbeats are getting through again", a.cfg.NodeID)
			}
			failing = false
		}
	}
}

// RegistrationError is the control plane refusing the registration (a 4xx):
// retrying will not help. Message is the control plane's own (for a bad
// session, the exact validation message).
type RegistrationError struct {
	StatusCode int
	Message    string
	Body       map[string]any
}

func (e *RegistrationError) Error() string {
	return fmt.Sprintf("registration refused (%d): %s", e.StatusCode, e.Message)
}
