package agent

import (
	"errors"
	"math"
)

// TurnDetection is OpenAI Realtime's input turn detection for a session. Nil
// pointers take upstream's defaults; pointers keep an explicit false or zero.
type TurnDetection struct {
	Type              string   `json:"type"`
	Threshold         *float64 `json:"threshold,omitempty"`
	PrefixPaddingMS   *int     `json:"prefix_padding_ms,omitempty"`
	SilenceDurationMS *int     `json:"silence_duration_ms,omitempty"`
	Eagerness         string   `json:"eagerness,omitempty"`
	CreateResponse    *bool    `json:"create_response,omitempty"`
	InterruptResponse *bool    `json:"interrupt_response,omitempty"`
}

// NormalizeTurnDetection validates config for a normalized provider/transport
// and fills in defaults, with the control plane's messages
// (agentfield/session_turn_detection.py). It returns nil where turn detection
// does not apply.
func NormalizeTurnDetection(provider, transport string, config *TurnDetection) (*TurnDetection, error) {
	if provider != "openai" || (transport != "webrtc" && transport != "websocket") {
		if config != nil {
			return nil, errors.New("turn_detection requires provider=openai and transport=webrtc or websocket")
		}
		return nil, nil
	}
	result := TurnDetection{Type: "server_vad"}
	if config != nil {
		result = *config
	}
	switch result.Type {
	case "server_vad":
		if result.Eagerness != "" {
			return nil, errors.New("turn_detection.eagerness is unsupported for server_vad")
		}
		threshold, padding, silence := 0.5, 300, 500
		if result.Threshold != nil {
			threshold = *result.Threshold
			if math.IsNaN(threshold) || math.IsInf(threshold, 0) || threshold < 0 || threshold > 1 {
				return nil, errors.New("turn_detection.threshold must be a finite number between 0 and 1")
			}
		}
		if result.PrefixPaddingMS != nil {
			if padding = *result.PrefixPaddingMS; padding < 0 {
				return nil, errors.New("turn_detection.prefix_padding_ms must be a non-negative integer")
			}
		}
		if result.SilenceDurationMS != nil {
			if silence = *result.SilenceDurationMS; silence < 0 {
				return nil, errors.New("turn_detection.silence_duration_ms must be a non-negative integer")
			}
		}
		result.Threshold, result.PrefixPaddingMS, result.SilenceDurationMS = &threshold, &padding, &silence
	case "semantic_vad":
		switch {
		case result.Threshold != nil:
			return nil, errors.New("turn_detection.threshold is unsupported for semantic_vad")
		case result.PrefixPaddingMS != nil:
			return nil, errors.New("turn_detection.prefix_padding_ms is unsupported for semantic_vad")
		case result.SilenceDurationMS != nil:
			return nil, errors.New("turn_detection.silence_duration_ms is unsupported for semantic_vad")
		}
		if result.Eagerness == "" {
			result.Eagerness = "auto"
		}
		switch result.Eagerness {
		case "auto", "low", "medium", "high":
		default:
			return nil, errors.New("turn_detection.eagerness must be auto, low, medium, or high")
		}
	default:
		return nil, errors.New("turn_detection.type must be server_vad or semantic_vad")
	}
	create, interrupt := true, true
	if result.CreateResponse != nil {
		create = *result.CreateResponse
	}
	if result.InterruptResponse != nil {
		interrupt = *result.InterruptResponse
	}
	result.CreateResponse, result.InterruptResponse = &create, &interrupt
	return &result, nil
}
