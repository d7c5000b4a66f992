// Command brief is the product brief's Go session declaration, verbatim, in a
// node that runs: it registers voice-support-af with AGENTFIELD_SERVER and
// AGENTFIELD_API_KEY, waits for tag approval and serves until SIGTERM.
package main

import (
	"context"
	"log"

	"agentfield/agent"
)

func main() {
	app, err := agent.New(agent.Config{NodeID: "voice-support-af", Version: "1.0.0"})
	if err != nil {
		log.Fatal(err)
	}

	app.RegisterSession("voice", "openai", "webrtc",
		agent.WithSessionModel("gpt-realtime-2"),
		agent.WithSessionModalities("audio", "text"),
		agent.WithSessionVoice("marin"),
		agent.WithSessionTools("support.resolve_voice_turn"),
		agent.WithSessionTags("support:voice", "pii:limited"),
	)

	if err := app.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
}
