package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// NormalizeSessionDefinition validates a wire-shaped session definition (JSON
// decoded into map[string]any, numbers as float64 or json.Number) and fills in
// defaults exactly like the control plane (agentfield/contract/definition.py),
// with its messages. RegisterSession builds such a definition from its options
// and goes through here, so both agree with the control plane.
func NormalizeSessionDefinition(raw map[string]any) (SessionDefinition, error) {
	name := strings.TrimSpace(pyStr(raw["name"]))
	if name == "" {
		return SessionDefinition{}, errors.New("session name is required")
	}
	pair, err := ValidateSessionTransport(pyStr(raw["provider"]), pyStr(raw["transport"]))
	if err != nil {
		return SessionDefinition{}, err
	}
	media, err := ValidateSessionMedia(pyStr(raw["media"]), pair.Provider, pair.Transport, nil)
	if err != nil {
		return SessionDefinition{}, err
	}
	rawTags := raw["tags"]
	if !truthy(rawTags) {
		rawTags = raw["proposed_tags"]
	}
	tags, err := stringList(rawTags, "tags")
	if err != nil {
		return SessionDefinition{}, err
	}
	metadata := map[string]any{}
	if truthy(raw["metadata"]) {
		object, ok := raw["metadata"].(map[string]any)
		if !ok {
			return SessionDefinition{}, errors.New("session metadata must be an object")
		}
		for key, value := range object {
			metadata[key] = value
		}
	}
	modalities, err := stringList(raw["modalities"], "modalities")
	if err != nil {
		return SessionDefinition{}, err
	}
	if len(modalities) == 0 {
		modalities = []string{"audio", "text"}
	}
	instructions, ok := raw["instructions"].(string)
	if !ok && raw["instructions"] != nil {
		return SessionDefinition{}, errors.New("session instructions must be a string")
	}
	tools, err := stringList(raw["tools"], "tools")
	if err != nil {
		return SessionDefinition{}, err
	}
	turnDetection, err := normalizeTurnDetectionValue(pair.Provider, pair.Transport, raw["turn_detection"])
	if err != nil {
		return SessionDefinition{}, err
	}
	tags = cleanTags(tags)
	return SessionDefinition{
		Name: name, Provider: pair.Provider, Transport: pair.Transport, Media: media,
		Model: pyStr(raw["model"]), Modalities: modalities, Voice: pyStr(raw["voice"]),
		Tools: tools, Tags: tags, ProposedTags: tags, ApprovedTags: []string{},
		Metadata: metadata, TurnDetection: turnDetection, Instructions: instructions,
		Handler: truthy(raw["handler"]),
	}, nil
}

// truthy is Python's truth value of a decoded JSON value.
func truthy(value any) bool {
	switch v := value.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	case float64:
		return v != 0
	case json.Number:
		f, err := v.Float64()
		return err != nil || f != 0
	case []any:
		return len(v) > 0
	case []string:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

// pyStr is Python's str(value or "") for the scalar values a definition holds.
func pyStr(value any) string {
	if !truthy(value) {
		return ""
	}
	switch v := value.(type) {
	case string:
		return v
	case bool:
		return "True"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(value)
}

// stringList is a list of strings, trimmed, without the empty ones.
func stringList(value any, field string) ([]string, error) {
	var items []string
	switch v := value.(type) {
	case nil:
		return []string{}, nil
	case []string:
		items = v
	case []any:
		for _, item := range v {
			text, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("session %s must be a list of strings", field)
			}
			items = append(items, text)
		}
	default:
		return nil, fmt.Errorf("session %s must be a list of strings", field)
	}
	return cleanList(items), nil
}

var turnDetectionFields = map[string]bool{
	"type": true, "threshold": true, "prefix_padding_ms": true, "silence_duration_ms": true,
	"create_response": true, "interrupt_response": true, "eagerness": true,
}

// normalizeTurnDetectionValue is agentfield/contract/turn_detection.py on a
// decoded JSON value. Python reports the first bad field in the object's order;
// a Go map has none, so with several bad fields this reports the first in
// sorted order.
func normalizeTurnDetectionValue(provider, transport string, value any) (*TurnDetection, error) {
	if provider != "openai" || (transport != "webrtc" && transport != "websocket") {
		if value != nil {
			return nil, errors.New("turn_detection requires provider=openai and transport=webrtc or websocket")
		}
		return nil, nil
	}
	if value == nil {
		value = map[string]any{"type": "server_vad"}
	}
	object, ok := value.(map[string]any)
	if !ok {
		return nil, errors.New("turn_detection must be an object")
	}
	keys := make([]string, 0, len(object))
	for key := range object {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if !turnDetectionFields[key] {
			return nil, fmt.Errorf("unknown turn_detection field \"%s\"", key)
		}
		if object[key] == nil {
			return nil, fmt.Errorf("turn_detection.%s must not be null", key)
		}
	}
	kind, _ := object["type"].(string)
	if kind != "server_vad" && kind != "semantic_vad" {
		return nil, errors.New("turn_detection.type must be server_vad or semantic_vad")
	}
	result := &TurnDetection{Type: kind}
	create, interrupt := true, true
	for _, field := range []struct {
		key    string
		target *bool
	}{{"create_response", &create}, {"interrupt_response", &interrupt}} {
		if item, present := object[field.key]; present {
			flag, ok := item.(bool)
			if !ok {
				return nil, fmt.Errorf("turn_detection.%s must be a boolean", field.key)
			}
			*field.target = flag
		}
	}
	result.CreateResponse, result.InterruptResponse = &create, &interrupt
	if kind == "server_vad" {
		if _, present := object["eagerness"]; present {
			return nil, errors.New("turn_detection.eagerness is unsupported for server_vad")
		}
		threshold := 0.5
		if _, present := object["threshold"]; present {
			number, _, ok := jsonNumber(object["threshold"])
			if !ok || math.IsNaN(number) || math.IsInf(number, 0) || number < 0 || number > 1 {
				return nil, errors.New("turn_detection.threshold must be a finite number between 0 and 1")
			}
			threshold = number
		}
		durations := map[string]int{"prefix_padding_ms": 300, "silence_duration_ms": 500}
		for _, key := range []string{"prefix_padding_ms", "silence_duration_ms"} {
			if item, present := object[key]; present {
				number, integer, ok := jsonNumber(item)
				if !ok || !integer || number < 0 {
					return nil, fmt.Errorf("turn_detection.%s must be a non-negative integer", key)
				}
				durations[key] = int(number)
			}
		}
		padding, silence := durations["prefix_padding_ms"], durations["silence_duration_ms"]
		result.Threshold, result.PrefixPaddingMS, result.SilenceDurationMS = &threshold, &padding, &silence
		return result, nil
	}
	for _, key := range []string{"threshold", "prefix_padding_ms", "silence_duration_ms"} {
		if _, present := object[key]; present {
			return nil, fmt.Errorf("turn_detection.%s is unsupported for semantic_vad", key)
		}
	}
	result.Eagerness = "auto"
	if item, present := object["eagerness"]; present {
		eagerness, _ := item.(string)
		switch eagerness {
		case "auto", "low", "medium", "high":
			result.Eagerness = eagerness
		default:
			return nil, errors.New("turn_detection.eagerness must be auto, low, medium, or high")
		}
	}
	return result, nil
}

// jsonNumber reads a JSON number (not a boolean); integer is Python's int (a
// literal without fraction or exponent, or an integral float64).
func jsonNumber(value any) (number float64, integer, ok bool) {
	switch v := value.(type) {
	case float64:
		return v, v == math.Trunc(v) && !math.IsInf(v, 0), true
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return 0, false, false
		}
		return f, !strings.ContainsAny(string(v), ".eE"), true
	case int:
		return float64(v), true, true
	}
	return 0, false, false
}
