package agent

import (
	"fmt"
	"sort"
	"strings"
)

// How a webrtc session's media flows (agentfield/contract/media.py; a test
// compares the two): "relay", the default, through the control plane's own
// peer, or "direct", from the browser straight to the provider while the
// control plane keeps a sideband. Other transports declare no media ("").

// SessionMedia lists the known media, sorted.
var SessionMedia = []string{"direct", "relay"}

// DefaultSessionMedia is a webrtc session's media when it declares none.
const DefaultSessionMedia = "relay"

const mediaTransport = "webrtc"

// SupportedSessionMedia is the provider -> media table of webrtc sessions; a
// provider not listed relays only.
var SupportedSessionMedia = map[string][]string{
	"openai": {"direct", "relay"},
}

func listedMedia(values []string) string {
	sorted := append([]string(nil), values...)
	sort.Strings(sorted)
	if len(sorted) == 0 {
		return "none"
	}
	return strings.Join(sorted, ", ")
}

func containsString(values []string, value string) bool {
	for _, candidate := range values {
		if candidate == value {
			return true
		}
	}
	return false
}

// ValidateSessionMedia returns the normalized media ("relay" or "direct" for
// webrtc, "" for other transports) or the control plane's exact message.
// provider and transport must already be normalized and valid. supported is a
// deployment's table (nil: SupportedSessionMedia); a media the contract allows
// but supported lacks is one that deployment turned off.
func ValidateSessionMedia(media, provider, transport string, supported map[string][]string) (string, error) {
	if supported == nil {
		supported = SupportedSessionMedia
	}
	value := NormalizeSessionValue(media)
	if value != "" && !containsString(SessionMedia, value) {
		return "", fmt.Errorf("Unknown session media '%s'. Known media: %s. "+
			"AgentField does not infer media; set media explicitly.", value, listedMedia(SessionMedia))
	}
	if transport != mediaTransport {
		if value != "" && value != DefaultSessionMedia {
			return "", fmt.Errorf("Session media applies to transport '%s' only; transport '%s' always "+
				"carries its media through the control plane. Leave media out or set it to relay.",
				mediaTransport, transport)
		}
		return "", nil
	}
	if value == "" {
		value = DefaultSessionMedia
	}
	allowed, listed := supported[provider]
	if !listed {
		allowed = []string{DefaultSessionMedia}
	}
	if containsString(allowed, value) {
		return value, nil
	}
	if containsString(SupportedSessionMedia[provider], value) {
		return "", fmt.Errorf("This control plane has %s media turned off. Supported media for "+
			"provider '%s': %s. AgentField does not infer media; set media explicitly.",
			value, provider, listedMedia(allowed))
	}
	return "", fmt.Errorf("Unsupported session media '%s' for provider '%s'. Supported media: %s. "+
		"AgentField does not infer media; set media explicitly.", value, provider, listedMedia(allowed))
}
