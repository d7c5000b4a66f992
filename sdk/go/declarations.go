package agent

// What the author of a node writes: reasoners, skills and sessions, and their
// options. Nothing here talks to the control plane (registration.go registers
// what is declared here).

import (
	"context"
	"encoding/json"
	"fmt"
)

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
// checked now, and so is the media (WithSessionMedia); the error is the control
// plane's exact validation message (*SessionTransportError for an unsupported
// pair).
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
