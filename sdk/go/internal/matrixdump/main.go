// Command matrixdump prints the SDK's provider/transport table, what
// ValidateSessionTransport answers for the [provider, transport] pairs and what
// NormalizeSessionDefinition answers for the definitions read as JSON
// ({"pairs": [...], "definitions": [...]}) from standard input, so a test can
// compare them with the control plane's.
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
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"table": agent.SupportedSessionTransports, "results": results, "definitions": definitions,
	})
}
