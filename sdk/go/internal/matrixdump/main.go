// Command matrixdump prints the SDK's provider/transport table and what
// ValidateSessionTransport answers for the [provider, transport] pairs read as
// JSON from standard input, so a test can compare them with the control plane's.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"agentfield/agent"
)

func main() {
	var pairs [][2]string
	if err := json.NewDecoder(os.Stdin).Decode(&pairs); err != nil {
		fmt.Fprintln(os.Stderr, "matrixdump: stdin must be a JSON list of [provider, transport]:", err)
		os.Exit(2)
	}
	results := make([]map[string]any, 0, len(pairs))
	for _, pair := range pairs {
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
	json.NewEncoder(os.Stdout).Encode(map[string]any{"table": agent.SupportedSessionTransports, "results": results})
}
