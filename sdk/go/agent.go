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
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// DefaultServer is the control plane used when neither Config.AgentFieldURL nor
// AGENTFIELD_SERVER is set.
const DefaultServer = "http://127.0.0.1:8000"

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
