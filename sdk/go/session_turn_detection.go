package agent

import (
	"bytes"
	"encoding/json"
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
// (agentfield/contract/turn_detection.py). It returns nil where turn detection
// does not apply.
func NormalizeTurnDetection(provider, transport string, config *TurnDetection) (*TurnDetection, error) {
	if config == nil {
		return normalizeTurnDetectionValue(provider, transport, nil)
	}
	value, err := asJSONValue(config)
	if err != nil {
		return nil, err
	}
	return normalizeTurnDetectionValue(provider, transport, value)
}

// asJSONValue is value as the control plane would decode it (numbers kept as
// written, so 300 stays an integer).
func asJSONValue(value any) (any, error) {
	raw, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.UseNumber()
	var decoded any
	err = decoder.Decode(&decoded)
	return decoded, err
}
