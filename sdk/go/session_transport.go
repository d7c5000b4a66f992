package agent

import (
	"fmt"
	"sort"
	"strings"
)

// SupportedSessionTransports is the provider -> transports table the control
// plane enforces (agentfield/contract/matrix.py; a test compares the two).
var SupportedSessionTransports = map[string][]string{
	"openai":     {"webrtc", "websocket"},
	"openrouter": {"audio_turns"},
}

// SessionTransportError is an unsupported provider/transport pair. Provider and
// Transport are normalized; Supported is sorted.
type SessionTransportError struct {
	Provider  string
	Transport string
	Supported []string
}

func (e *SessionTransportError) Error() string {
	listed := strings.Join(e.Supported, ", ")
	if listed == "" {
		listed = "none"
	}
	return fmt.Sprintf("Unsupported session transport '%s' for provider '%s'. Supported transports: %s. "+
		"AgentField does not infer or switch providers; set provider and transport explicitly.",
		e.Transport, e.Provider, listed)
}

// SessionTransportCapability is a validated, normalized pair.
type SessionTransportCapability struct {
	Provider  string
	Transport string
}

// NormalizeSessionValue trims, lowercases and turns "-" into "_".
func NormalizeSessionValue(value string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(value)), "-", "_")
}

// ValidateSessionTransport checks a pair against SupportedSessionTransports in
// upstream's order, with the control plane's exact messages.
func ValidateSessionTransport(provider, transport string) (SessionTransportCapability, error) {
	return validateSessionTransport(provider, transport, SupportedSessionTransports)
}

func validateSessionTransport(provider, transport string, table map[string][]string) (SessionTransportCapability, error) {
	p, t := NormalizeSessionValue(provider), NormalizeSessionValue(transport)
	if p == "" {
		return SessionTransportCapability{}, fmt.Errorf("Session provider is required; AgentField does not infer providers.")
	}
	if t == "" {
		return SessionTransportCapability{}, fmt.Errorf("Session transport is required; AgentField does not infer transports.")
	}
	supported, known := table[p]
	if !known {
		names := make([]string, 0, len(table))
		for name := range table {
			names = append(names, name)
		}
		sort.Strings(names)
		return SessionTransportCapability{}, fmt.Errorf("Unknown session provider '%s'. Known providers: %s. "+
			"Register provider capabilities before using a custom session provider.", provider, strings.Join(names, ", "))
	}
	for _, candidate := range supported {
		if candidate == t {
			return SessionTransportCapability{Provider: p, Transport: t}, nil
		}
	}
	sorted := append([]string(nil), supported...)
	sort.Strings(sorted)
	return SessionTransportCapability{}, &SessionTransportError{Provider: p, Transport: t, Supported: sorted}
}
