module agentfield/agent

go 1.19
