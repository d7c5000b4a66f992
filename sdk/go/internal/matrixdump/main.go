// Command matrixdump prints the SDK's provider/transport and media tables, what
// ValidateSessionTransport answers for the [provider, transport] pairs, what
// NormalizeSessionDefinition answers for the definitions and what
// ValidateSessionMedia answers for the media cases, read as JSON
// ({"pairs": [...], "definitions": [...], "media": [{"media", "provider",
// "transport", "table"}...]}) from standard input, so a test can compare them
// with the control plane's.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"agentfield/agent"
)

func main() {
	var cases struct {
		Pairs       [][2]string      `json:"pairs"`
		Definitions []map[string]any `json:"definitions"`
		Media       []struct {
			Media     string              `json:"media"`
			Provider  string              `json:"provider"`
			Transport string              `json:"transport"`
			Table     map[string][]string `json:"table"`
		} `json:"media"`
	}
	decoder := json.NewDecoder(os.Stdin)
	decoder.UseNumber() // as the control plane reads numbers: 300 is an integer, 300.0 is not
	if err := decoder.Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "matrixdump: stdin must be {\"pairs\": [[provider, transport]...], \"definitions\": [...]}:", err)
		os.Exit(2)
	}
	results := make([]map[string]any, 0, len(cases.Pairs))
	for _, pair := range cases.Pairs {
		capability, err := agent.ValidateSessionTransport(pair[0], pair[1])
		var typed *agent.SessionTransportError
		switch {
		case errors.As(err, &typed):
			results = append(results, map[string]any{"error": err.Error(), "typed": true,
				"provider": typed.Provider, "transport": typed.Transport, "supported": typed.Supported})
		case err != nil:
			results = append(results, map[string]any{"error": err.Error(), "typed": false})
		default:
			results = append(results, map[string]any{"provider": capability.Provider, "transport": capability.Transport})
		}
	}
	definitions := make([]map[string]any, 0, len(cases.Definitions))
	for _, raw := range cases.Definitions {
		def, err := agent.NormalizeSessionDefinition(raw)
		var typed *agent.SessionTransportError
		switch {
		case errors.As(err, &typed):
			definitions = append(definitions, map[string]any{"error": err.Error(), "name": "SessionTransportError"})
		case err != nil:
			definitions = append(definitions, map[string]any{"error": err.Error(), "name": "Error"})
		default:
			definitions = append(definitions, map[string]any{"ok": def})
		}
	}
	media := make([]map[string]any, 0, len(cases.Media))
	for _, c := range cases.Media {
		value, err := agent.ValidateSessionMedia(c.Media, c.Provider, c.Transport, c.Table)
		if err != nil {
			media = append(media, map[string]any{"error": err.Error(), "name": "Error"})
		} else {
			media = append(media, map[string]any{"ok": value})
		}
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"table": agent.SupportedSessionTransports, "results": results, "definitions": definitions,
		"mediaTable": agent.SupportedSessionMedia, "media": media,
	})
}
